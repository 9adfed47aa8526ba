"""`bench --tag-full N`: `tag` songs/s on N full-length songs (3-5 min), per workers × threads per worker.

The songs are real music: 30-s recordings of ../shared strung together into 3-5 min, written as 44.1 kHz
stereo MP3 as a library holds them. Each setting is a fresh `tag` process over the same songs into a new
table; today's default on this machine (a worker per core, one thread each) is measured in the same run.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from .core import ROOT, SHARED

SETTINGS = ((1, 1), (1, 2), (2, 1), (3, 1))


def full_songs(folder: Path, count: int, seed: int = 0) -> Path:
    """`count` songs of 3-5 minutes from ../shared's recordings (a sine tone where ../shared is missing)."""
    import librosa

    songs = folder / "full"
    songs.mkdir()
    rng = np.random.default_rng(seed)
    manifest = SHARED / "manifest.csv"
    paths = [SHARED / r["path"] for r in csv.DictReader(manifest.open())] if manifest.is_file() else []
    for i in range(count):
        minutes = rng.uniform(3, 5)
        parts, total = [], 0
        while total < minutes * 60 * 22050:
            if paths:
                y, _ = sf.read(paths[int(rng.integers(len(paths)))], dtype="float32")
            else:
                y = (0.3 * np.sin(2 * np.pi * 220 * np.arange(30 * 22050) / 22050)).astype(np.float32)
            parts.append(y)
            total += len(y)
        music = np.concatenate(parts)[: int(minutes * 60 * 22050)]
        stereo = np.stack([librosa.resample(music, orig_sr=22050, target_sr=44100)] * 2, axis=1)
        sf.write(songs / f"song{i:03d}.mp3", stereo, 44100, format="MP3")
    return songs


def tag_rate(songs: Path, out: Path, workers: int, threads: int) -> float:
    count = len(list(songs.iterdir()))
    command = [sys.executable, "-m", "genre_core", "tag", str(songs), "--out", str(out), "--quiet"]
    command += ["--workers", str(workers), "--threads-per-worker", str(threads)]
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return count / (time.perf_counter() - started)


def bench_full_tagging(folder: Path, count: int) -> dict[str, Any]:
    songs = full_songs(folder, count)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    today = (cores, 1)
    rates = {}
    for n, (workers, threads) in enumerate((today, *[s for s in SETTINGS if s != today])):
        rates[f"{workers} workers x {threads} threads"] = round(
            tag_rate(songs, folder / f"t{n}.parquet", workers, threads), 2
        )
    base = rates[f"{today[0]} workers x {today[1]} threads"]
    return {
        "songs": count,
        "cores": cores,
        "songs_per_s": rates,
        "ratio_to_today": {k: round(v / base, 2) for k, v in rates.items()},
    }
