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
