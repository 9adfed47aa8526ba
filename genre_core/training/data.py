"""The manifest, and a disk cache of whole-recording log-mels built once.

The cache runs each recording through the library's own `audio` and
`features` code (so training sees what inference sees) and stores
absolute dB as float16, keyed by the file's content hash and the feature
config. An epoch then only slices arrays.
"""

from __future__ import annotations

import csv
import hashlib
import json
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import librosa
import numpy as np
import torch
from tqdm import tqdm

from ..audio import load_audio, resample
from ..config import FeatureConfig
from ..features import LogMel
from ..windows import fit_window

DEFAULT_CACHE = Path(__file__).resolve().parents[2] / ".cache" / "features"
#: The manifest's genre for music of none of the ten.
OTHER = "other"


@dataclass(frozen=True)
class Recording:
    path: Path
    genre: str
    source: str
    quality: str
    split: str
    group: str
    duration_s: float
    #: The source's own genre tags, `;`-separated (4Q: AllMusic genres), else empty.
    source_genres: str = ""
    #: 4Q only: the emotion quadrant Q1..Q4, else empty.
    mood: str = ""

    @property
    def is_other(self) -> bool:
        """Music of none of the ten genres: a known unknown for the open-set detector, never a genre."""
        return self.genre == OTHER

    @property
    def family(self) -> str:
        """GTZAN or not: evaluation is reported for both separately."""
        return "gtzan" if self.source == "gtzan" else "other"


def read_manifest(manifest: str | Path, labels: tuple[str, ...], include_other: bool = False) -> list[Recording]:
    """The recordings of `labels` (and, with `include_other`, those of none of the ten: genre `other`)."""
    manifest = Path(manifest)
    root = manifest.parent
    with manifest.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    recordings = [
        Recording(
            path=root / row["path"],
            genre=row["genre"],
            source=row["source"],
            quality=row["quality"],
            split=row["split"],
            group=row["group"],
            duration_s=float(row["duration_s"]),
            source_genres=row.get("source_genres") or "",
            mood=row.get("mood") or "",
        )
        for row in rows
        if row["genre"] in labels or (include_other and row["genre"] == OTHER)
    ]
    check_groups_do_not_cross_splits(recordings)
    return recordings


def check_groups_do_not_cross_splits(recordings: list[Recording]) -> None:
    """Refuse to train if one artist/group sits in two splits."""
    seen: dict[str, str] = {}
    for rec in recordings:
        other = seen.setdefault(rec.group, rec.split)
        if other != rec.split:
            raise ValueError(f"group '{rec.group}' is in both '{other}' and '{rec.split}'")


def content_key(path: Path, fields: dict) -> str:
    """A cache file name from the file's content and the settings that made the cached array."""
    digest = hashlib.sha1(path.read_bytes()).hexdigest()
    return hashlib.sha1((digest + json.dumps(fields, sort_keys=True)).encode()).hexdigest()


def _cache_key(path: Path, cfg: FeatureConfig, speed: float, stretch: float) -> str:
    fields = {"features": asdict(cfg), "speed": speed, "short_clip_padding": "loop"}
    if stretch != 1.0:  # only in the key when used, so older caches stay valid
        fields["stretch"] = stretch
    return content_key(path, fields)


def _compute(job: tuple[Path, FeatureConfig, float, float, Path]) -> Path:
    path, cfg, speed, stretch, cache_dir = job
    target = cache_dir / f"{_cache_key(path, cfg, speed, stretch)}.npy"
    if target.exists():
        return target
    torch.set_num_threads(1)
    audio = load_audio(path, cfg.sample_rate)
    if speed != 1.0:
        # Vari-speed (tape-style) change: pitch and tempo move together.
        audio = resample(audio, int(round(cfg.sample_rate * speed)), cfg.sample_rate)
    if stretch != 1.0:
        # Time-stretch (phase vocoder): tempo changes, pitch stays.
        audio = librosa.effects.time_stretch(audio, rate=stretch).astype(np.float32)
    if audio.size < cfg.window_samples:  # pad exactly as inference pads short songs
        audio = fit_window(audio, cfg.window_samples, loop=True)
    db = LogMel(cfg).absolute_db(audio).astype(np.float16)
    tmp = target.with_suffix(".tmp.npy")
    np.save(tmp, db)
    tmp.rename(target)
    return target


def build_cache(
    recordings: list[Recording],
    cfg: FeatureConfig,
    cache_dir: Path = DEFAULT_CACHE,
    speed: float = 1.0,
    workers: int = 2,
    stretch: float = 1.0,
) -> list[np.ndarray]:
    """Whole-recording absolute-dB log-mels `(n_mels, frames)`, computed at most once.

    `speed` renders a vari-speed copy (pitch and tempo together), `stretch`
    a time-stretched one (tempo only; >1 is faster).
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    jobs = [(rec.path, cfg, speed, stretch, cache_dir) for rec in recordings]
    desc = f"features speed x{speed:g} stretch x{stretch:g}"
    with ProcessPoolExecutor(max_workers=workers) as pool:
        paths = list(tqdm(pool.map(_compute, jobs, chunksize=8), total=len(jobs), desc=desc))
    return [np.load(p) for p in paths]
