"""Re-cut the committed test clips from ../shared/data (run from the repo root).

One GTZAN test-split recording per genre (full-length 'original' first, else
another GTZAN tier of at least 6 s); 6 s from its middle, as OGG Vorbis. And one
test-split recording of none of the ten genres (`other.ogg`, seconds 6-12).
"""

import csv
from pathlib import Path

import soundfile as sf

SHARED = Path("../shared/data")
rows = [r for r in csv.DictReader((SHARED / "manifest.csv").open()) if r["source"] == "gtzan" and r["split"] == "test"]
picked: dict[str, dict] = {}
for r in rows:
    if r["quality"] == "original":
        picked.setdefault(r["genre"], r)
for r in rows:
    if float(r["duration_s"]) >= 6:
        picked.setdefault(r["genre"], r)
for genre, r in sorted(picked.items()):
    y, sr = sf.read(SHARED / r["path"], dtype="float32")
    mid = len(y) // 2
    sf.write(f"tests/data/{genre}.ogg", y[mid - 3 * sr : mid + 3 * sr], sr, format="OGG", subtype="VORBIS")
    print(genre, r["track_id"], r["quality"])

y, sr = sf.read(SHARED / "audio/4q/other/panda4q__MT0030494794.ogg", dtype="float32")
sf.write("tests/data/other.ogg", y[6 * sr : 12 * sr], sr, format="OGG", subtype="VORBIS")
print("other panda4q__MT0030494794 preview")

# Electronic music (4Q, AllMusic "Electronic", train split): the outside head names it; write-tags writes it.
y, sr = sf.read(SHARED / "audio/4q/other/panda4q__MT0009421924.ogg", dtype="float32")
sf.write("tests/data/electronic.ogg", y[3 * sr : 9 * sr], sr, format="OGG", subtype="VORBIS")
print("electronic panda4q__MT0009421924 preview")

# The same recording, seconds 12-18: P(other) passes the verdict's rule, but pop is surer and past the write cut,
# so the verdict yields to the chart (`models.openset.verdict`).
sf.write("tests/data/pop_or_other.ogg", y[12 * sr : 18 * sr], sr, format="OGG", subtype="VORBIS")
print("pop_or_other panda4q__MT0009421924 preview")
