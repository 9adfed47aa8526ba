"""`bench --distilled`: fewer multiply-adds instead of lower precision. The shipped fast CRNN, a small network
distilled from the default one (its teacher's window probabilities), against the default on whole splits.

Each model reads the same songs through its own front end (the default: musicnn's 16 kHz 96-mel input;
the fast CRNN: 22050 Hz, 128 mels), ten spread windows per song, through ONNX Runtime. Per split: the share
of song-level genre decisions that differ from the default's, accuracy, macro-F1 and accuracy by source for
both, the open-set verdict changed where both models carry one, and ms per 10 windows of each network
(median, the same run). The fast CRNN has no tag head, so no mood and no MSD tags: it cannot replace the
default, only stand beside it (`--model crnn`), and the rule for a CPU default (at most 1 % of decisions
changed) is printed beside it.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

import numpy as np

from ..classifier import GenreClassifier
from ..config import SHARED_DATA as SHARED
from ..errors import UsageError
from .int8 import features_of, genre_figures, songs

RULE_CHANGED_PCT = 1.0


def song_outputs(clf: GenreClassifier, features: np.ndarray) -> tuple[int, bool | None, float]:
    """(the song's genre index, its open-set verdict or None, ms for its windows' network pass)."""
    started = time.perf_counter()
    logits, tags = clf.logits_and_tags(features)
    ms = (time.perf_counter() - started) * 1000 * 10 / len(features)
    probs = clf.probabilities(logits)
    _, _, is_other = clf.open_set_verdict(logits, tags, probs)
    return int(probs.mean(axis=0).argmax()), (is_other if clf.open_set is not None else None), ms


def distilled_check(teacher: str | None = None, student: str = "crnn") -> dict[str, Any]:
    if not (SHARED / "manifest.csv").is_file():
        raise UsageError(f"--distilled reads the valid and test splits from {SHARED}, which is absent")
    models = {
        "default": GenreClassifier.load(teacher, device="cpu", runtime="onnx"),
        "distilled": GenreClassifier.load(student, device="cpu", runtime="onnx"),
    }
    if models["default"].labels != models["distilled"].labels:
        raise UsageError("the two models decide different genres: nothing to compare")
    labels = models["default"].labels
    report: dict[str, Any] = {"rule_changed_pct": RULE_CHANGED_PCT, "splits": {}}
    for split in ("valid", "test"):
        rows = songs(split, labels)
        features = {name: {r["path"]: f for r, f in features_of(clf, rows)} for name, clf in models.items()}
        paths = [r["path"] for r in rows if all(r["path"] in f for f in features.values())]  # both could read it
        by_path = {r["path"]: r for r in rows}
        truth = [labels.index(by_path[p]["genre"]) for p in paths]
        sources = [by_path[p]["source"] for p in paths]
        outs = {name: [song_outputs(clf, features[name][p]) for p in paths] for name, clf in models.items()}
        row: dict[str, Any] = {"songs": len(paths)}
        for name, out in outs.items():
            genre = [o[0] for o in out]
            row[name] = {
                "ms_per_10_windows": round(statistics.median(o[2] for o in out), 1),
                **genre_figures(genre, truth, sources, len(labels)),
            }
        base, mine = outs["default"], outs["distilled"]
        row["decisions_changed_pct"] = round(
            100 * float(np.mean([a[0] != b[0] for a, b in zip(mine, base, strict=True)])), 2
        )
        both = [(a[1], b[1]) for a, b in zip(mine, base, strict=True) if a[1] is not None and b[1] is not None]
        row["open_set_changed_pct"] = round(100 * float(np.mean([a != b for a, b in both])), 2) if both else None
        row["speedup"] = round(row["default"]["ms_per_10_windows"] / row["distilled"]["ms_per_10_windows"], 2)
        report["splits"][split] = row
    report["meets_rule"] = all(r["decisions_changed_pct"] <= RULE_CHANGED_PCT for r in report["splits"].values())
    return report
