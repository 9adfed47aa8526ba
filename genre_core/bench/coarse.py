"""`bench --coarse-front-end`: fewer multiply-adds in the default model's own front end. May it ship?

The coarse variant (`models.coarse_musicnn`: the front end on pairs of mel bands, ~0.39 G multiply-adds per
window against ~1.34 G) as built from the shipped weights, or as fitted by `train-coarse-front`
(`--coarse-weights`), against the shipped network. Both run on PyTorch here (the same runtime, so the ratio
is the front end's), on the same features of whole splits: genre decisions, open-set verdict and mood
changed, accuracy, macro-F1, accuracy by source, ms per 10 windows. The rule for a CPU default: at most
1 % of decisions changed.
"""

from __future__ import annotations

import copy
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..classifier import GenreClassifier
from ..config import SHARED_DATA as SHARED
from ..errors import UsageError
from ..models.checkpoint import load_checkpoint
from ..models.coarse_musicnn import CoarseMusicnn, front_end_macs
from ..models.musicnn import MusicnnCRNN
from .int8 import decisions, features_of, genre_figures, songs

RULE_CHANGED_PCT = 1.0


@torch.inference_mode()
def outputs(model: MusicnnCRNN, data: list[tuple[dict[str, str], np.ndarray]]) -> tuple[list, float]:
    """(logits and tags per song, median ms per 10 windows) on PyTorch."""
    results, times = [], []
    for _, features in data:
        start = time.perf_counter()
        logits, tags = model.forward_with_tags(torch.from_numpy(features))
        times.append((time.perf_counter() - start) * 10 / len(features))
        results.append((logits.numpy(), tags.numpy()))
    return results, 1000 * statistics.median(times)


def coarse_network(model: str | Path | None, weights: str | Path | None) -> tuple[MusicnnCRNN, MusicnnCRNN]:
    """(the shipped network, its coarse copy), both in inference form; `weights`: a fitted coarse front end."""
    raw = load_checkpoint(model).model
    if not isinstance(raw, MusicnnCRNN):
        raise UsageError("--coarse-front-end needs the transfer CRNN (musicnn front end)")
    coarse = copy.deepcopy(raw)  # a shallow copy would share (and so change) the shipped modules
    coarse.musicnn = CoarseMusicnn.from_musicnn(raw.musicnn)
    if weights is not None:
        coarse.musicnn.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True)["front_end"])
    return raw.for_inference(), coarse.for_inference()


def coarse_check(model: str | None = None, weights: str | Path | None = None) -> dict[str, Any]:
    if not (SHARED / "manifest.csv").is_file():
        raise UsageError(f"--coarse-front-end reads the valid and test splits from {SHARED}, which is absent")
    clf = GenreClassifier.load(model, device="cpu", runtime="torch")
    shipped, coarse = coarse_network(model, weights)
    frames = clf.config.features.window_frames
    report: dict[str, Any] = {
        "weights": str(weights) if weights else "summed rows of the shipped kernels, not fitted",
        "front_end_macs_per_window": {
            "shipped": front_end_macs(shipped.musicnn, frames),
            "coarse": front_end_macs(coarse.musicnn, frames),
        },
        "rule_changed_pct": RULE_CHANGED_PCT,
        "splits": {},
    }
    for split in ("valid", "test"):
        data = features_of(clf, songs(split, clf.labels))
        truth = [clf.labels.index(r["genre"]) for r, _ in data]
        sources = [r["source"] for r, _ in data]
        runs = {name: outputs(net, data) for name, net in (("shipped", shipped), ("coarse", coarse))}
        found = {name: [decisions(clf, *o) for o in out] for name, (out, _) in runs.items()}
        row: dict[str, Any] = {"songs": len(data)}
        for name, mine in found.items():
            row[name] = {
                "ms_per_10_windows": round(runs[name][1], 1),
                **genre_figures([d[0] for d in mine], truth, sources, len(clf.labels)),
            }
        pairs = list(zip(found["coarse"], found["shipped"], strict=True))
        for i, key in enumerate(("decisions_changed_pct", "open_set_changed_pct", "mood_changed_pct")):
            row[key] = round(100 * float(np.mean([a[i] != b[i] for a, b in pairs])), 2)
        row["speedup"] = round(row["shipped"]["ms_per_10_windows"] / row["coarse"]["ms_per_10_windows"], 2)
        report["splits"][split] = row
    report["meets_rule"] = all(r["decisions_changed_pct"] <= RULE_CHANGED_PCT for r in report["splits"].values())
    return report
