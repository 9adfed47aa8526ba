"""`bench --batch-curve`: warm time against peak memory for each number of windows per ONNX Runtime pass.

Each setting runs in a fresh process (peak RSS is a process's high-water mark): load the model through
ONNX Runtime with that many windows per pass, with the CPU memory arena on or off, predict a 4-min MP3
once (the peak RSS), then time warm predictions of a 30-s and a 4-min MP3 (median of `runs`) and one
timeline of the 4-min song (80 windows). Today's setting runs right before each setting, in the same way:
the ratios are within those pairs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

#: (windows per pass, the CPU memory arena on): the arena off only where it might pay, at the largest passes.
SETTINGS = ((1, True), (2, True), (5, True), (10, True), (20, True), (10, False), (20, False))
MODELS = ("musicnn_crnn", "crnn")

CHILD = """
import json, statistics, sys, time
from genre_core import GenreClassifier
from genre_core.models.serving import OnnxModel
model, windows, arena = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
short, long_, runs = sys.argv[4], sys.argv[5], int(sys.argv[6])
clf = GenreClassifier.load(model, device="cpu", runtime="onnx")
clf.network = OnnxModel(clf.network.path, None, windows, arena)
clf.predict(long_)
def high_water():  # VmHWM: this process's own peak (ru_maxrss keeps the parent's across fork + exec)
    line = next(l for l in open("/proc/self/status") if l.startswith("VmHWM"))
    return int(line.split()[1]) / 1024
peak = high_water()
def timed(fn):
    times = []
    for _ in range(runs):
        t = time.perf_counter(); fn(); times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)
out = {"peak_rss_mb": round(peak, 1), "short_ms": timed(lambda: clf.predict(short)),
       "long_ms": timed(lambda: clf.predict(long_)),
       "timeline_ms": timed(lambda: clf.predict(long_, strategy="timeline"))}
out["timeline_peak_rss_mb"] = round(high_water(), 1)
print(json.dumps(out))
"""


def measure(model: str, windows: int, arena: bool, short: Path, long_: Path, runs: int) -> dict[str, Any]:
    args = [model, str(windows), "1" if arena else "0", str(short), str(long_), str(runs)]
    done = subprocess.run([sys.executable, "-c", CHILD, *args], capture_output=True, text=True, check=True)
    return {"model": model, "windows": windows, "arena": arena, **json.loads(done.stdout.strip().splitlines()[-1])}


def batch_curve(short: Path, long_: Path, runs: int = 5) -> list[dict[str, Any]]:
    """Each setting paired with today's, run right before it: the ratio is within a pair, as noise allows."""
    from ..classifier import load_info
    from ..models.registry import resolve_model
    from ..models.serving import ONNX_BATCH_WINDOWS, ONNX_BATCH_WINDOWS_BY_FAMILY

    rows = []
    for model in MODELS:
        family = load_info(resolve_model(model)).config.model.family
        today_windows = ONNX_BATCH_WINDOWS_BY_FAMILY.get(family, ONNX_BATCH_WINDOWS)
        for windows, arena in SETTINGS:
            today = measure(model, today_windows, True, short, long_, runs)
            row = measure(model, windows, arena, short, long_, runs)
            for key in ("short_ms", "long_ms", "timeline_ms"):
                row[f"{key[:-3]}_vs_today"] = round(today[key] / row[key], 2)
            rows.append(row)
    return rows
