"""`bench --decode`: the MP3 windows the model reads, decoded by libsndfile (mpg123) and by PyAV (FFmpeg).

Per file: the time to open it and read the spread windows (median of `runs`, both decoders in the same run,
alternating), and whether they decode the same samples: the largest difference after aligning them (the
two decoders may start a frame apart), the lag that aligns them, and the correlation.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

from ..audio import SoundFileReader, _open_with_pyav
from ..config import FeatureConfig
from ..windows import plan_windows, read_windows


def read_with(decoder: str, path: Path, cfg: FeatureConfig) -> np.ndarray:
    reader = SoundFileReader(sf.SoundFile(path), cfg.sample_rate) if decoder == "libsndfile" else None
    if reader is None:
        reader = _open_with_pyav(str(path), cfg.sample_rate)
    try:
        plan = plan_windows(reader.duration_s, cfg, "spread")
        return read_windows(reader, plan, cfg)[1]
    finally:
        reader.close()


def aligned_difference(a: np.ndarray, b: np.ndarray, max_lag: int = 2048) -> dict[str, float]:
    """The lag (samples of b after a) that best aligns one window, and the largest difference after it."""
    x, y = a[0], b[0]
    lags = range(-max_lag, max_lag + 1, 1)
    core = slice(max_lag, len(x) - max_lag)
    scores = [float(np.dot(x[core], y[core.start + lag : core.stop + lag])) for lag in lags]
    lag = list(lags)[int(np.argmax(scores))]
    shifted = np.roll(b, -lag, axis=1)[:, max_lag:-max_lag]
    trimmed = a[:, max_lag:-max_lag]
    return {
        "lag_samples": lag,
        "max_abs_difference": float(np.abs(trimmed - shifted).max()),
        "correlation": float(np.corrcoef(trimmed.ravel(), shifted.ravel())[0, 1]),
    }


def bench_decode(files: dict[str, Path], runs: int = 5) -> list[dict[str, Any]]:
    cfg = FeatureConfig()
    rows = []
    for name, path in files.items():
        times: dict[str, list[float]] = {"libsndfile": [], "pyav": []}
        for _ in range(runs):
            for decoder in times:
                start = time.perf_counter()
                read_with(decoder, path, cfg)
                times[decoder].append(time.perf_counter() - start)
        same = aligned_difference(read_with("libsndfile", path, cfg), read_with("pyav", path, cfg))
        libsndfile, pyav = (1000 * statistics.median(times[d]) for d in ("libsndfile", "pyav"))
        rows.append(
            {
                "file": name,
                "libsndfile_ms": round(libsndfile, 1),
                "pyav_ms": round(pyav, 1),
                "pyav_speedup": round(libsndfile / pyav, 2),
                **same,
            }
        )
    return rows
