"""Temperature scaling: one number that makes the shown probabilities honest.

Fitted on the valid split, on the same track-level probabilities the app
shows (mean of window softmaxes), by minimising negative log-likelihood.
Expected calibration error (ECE) is reported before and after.

The same calibrated probabilities choose the threshold above which
`write-tags` and the beets plugin write a genre into a file: the lowest
probability at which written genres are right at least `tag_precision` of the
time on valid, at that cut and at every stricter one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.optimize import minimize_scalar

from ..classifier import GenreClassifier
from ..models.checkpoint import load_checkpoint, save_checkpoint, write_metrics_index
from .data import read_manifest


def track_probs(window_logits: list[torch.Tensor], temperature: float) -> np.ndarray:
    return np.stack([torch.softmax(w / temperature, dim=-1).mean(dim=0).numpy() for w in window_logits])


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = 10) -> float:
    """Mean |accuracy - confidence| over equal-width confidence bins, weighted by count."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(ece)


def nll(probs: np.ndarray, y: np.ndarray) -> float:
    return float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, 1)).mean())


def split_logits(
    classifier: GenreClassifier, manifest: Path, split: str
) -> tuple[list[torch.Tensor], np.ndarray, np.ndarray]:
    """Raw window logits of every recording in a split via the app's path, its labels and families (GTZAN or other)."""
    recs = [r for r in read_manifest(manifest, classifier.labels) if r.split == split]
    logits = [torch.from_numpy(classifier.logits(classifier.extract(r.path, "spread")[2])) for r in recs]
    labels = np.asarray([classifier.labels.index(r.genre) for r in recs])
    return logits, labels, np.asarray([r.family for r in recs])


def fit_temperature(window_logits: list[torch.Tensor], y: np.ndarray) -> float:
    result = minimize_scalar(lambda t: nll(track_probs(window_logits, t), y), bounds=(0.05, 10.0), method="bounded")
    return float(result.x)


#: Cuts resting on fewer valid recordings than this are too noisy to hold the precision to.
MIN_SUPPORT = 30


def precision_threshold(
    confidence: np.ndarray, correct: np.ndarray, target: float, min_support: int = MIN_SUPPORT
) -> float | None:
    """Lowest cut t (rounded up to 0.01) whose precision, and every stricter cut's, reaches `target`.

    Precision over `confidence >= t` is not monotone in t; asking it of every
    stricter cut (with at least MIN_SUPPORT recordings) keeps a lucky dip from
    choosing the threshold. None when no cut reaches the target.
    """
    candidates = np.unique(np.ceil(confidence * 100 - 1e-6) / 100)[::-1]  # strictest first
    chosen = None
    for cut in candidates:
        written = confidence >= cut - 1e-9
        if written.sum() < min_support:
            continue
        if correct[written].mean() < target:
            break
        chosen = float(cut)
    return chosen


def threshold_scores(
    confidence: np.ndarray, correct: np.ndarray, cut: float, families: np.ndarray | None = None
) -> dict[str, Any]:
    """Precision and coverage of writing only where the probability reaches `cut`, overall and per family."""
    written = confidence >= cut - 1e-9
    scores: dict[str, Any] = {
        "recordings": int(len(correct)),
        "written": int(written.sum()),
        "coverage": float(written.mean()),
        "precision": float(correct[written].mean()) if written.any() else None,
        "accuracy_of_all": float(correct.mean()),
    }
    if families is not None:
        scores["by_family"] = {
            family: threshold_scores(confidence[families == family], correct[families == family], cut)
            for family in sorted(set(families.tolist()))
        }
    return scores


def tag_threshold(
    valid: tuple[np.ndarray, np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray, np.ndarray], target: float
) -> dict[str, Any]:
    """Choose the write threshold on valid (calibrated track probabilities); report it on test.

    Each split is (probabilities, labels, families); precision is also reported for GTZAN
    and the other sources apart, because a user's library is not GTZAN.
    """
    (valid_probs, valid_y, valid_families), (test_probs, test_y, test_families) = valid, test
    confidence, correct = valid_probs.max(axis=1), valid_probs.argmax(axis=1) == valid_y
    cut = precision_threshold(confidence, correct, target)
    if cut is None:  # say how far off: the precision of the most confident MIN_SUPPORT recordings
        top = np.argsort(-confidence)[:MIN_SUPPORT]
        return {
            "target_precision": target,
            "min_probability": None,
            "min_support": MIN_SUPPORT,
            "valid_precision_of_most_confident": float(correct[top].mean()),
        }
    return {
        "target_precision": target,
        "min_probability": cut,
        "min_support": MIN_SUPPORT,
        "aggregate": "mean",
        "strategy": "spread",
        "chosen_on": "valid",
        "valid": threshold_scores(confidence, correct, cut, valid_families),
        "test": threshold_scores(test_probs.max(axis=1), test_probs.argmax(axis=1) == test_y, cut, test_families),
    }


#: How often a written second or third genre must be the recording's labelled genre on valid.
SECONDARY_PRECISION = 0.5
#: Secondary cuts need fewer recordings behind them: they are rarer than first genres.
SECONDARY_MIN_SUPPORT = 10


def secondary_candidates(probs: np.ndarray, y: np.ndarray, primary_cut: float, ranks: int = 2) -> tuple:
    """(probability, right) of each 2nd..`ranks+1`th genre of the recordings whose first genre is written.

    A secondary genre counts as right only when it is the recording's one labelled genre, i.e. when
    the first genre was wrong: the datasets have a single genre per recording, so this is a lower
    bound on how often a second genre a listener would accept is written.
    """
    order = np.argsort(-probs, axis=1)
    written = probs.max(axis=1) >= primary_cut - 1e-9
    confidence = [probs[written, order[written, k]] for k in range(1, ranks + 1)]
    right = [order[written, k] == y[written] for k in range(1, ranks + 1)]
    return np.concatenate(confidence), np.concatenate(right)


def secondary_threshold(
    valid: tuple[np.ndarray, np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray, np.ndarray],
    primary_cut: float,
    target: float = SECONDARY_PRECISION,
) -> dict[str, Any]:
    """The probability a second or third genre needs (chosen on valid, reported on test), or None with why."""
    confidence, right = secondary_candidates(valid[0], valid[1], primary_cut)
    cut = precision_threshold(confidence, right, target, SECONDARY_MIN_SUPPORT)
    top = np.argsort(-confidence)[:SECONDARY_MIN_SUPPORT]
    report: dict[str, Any] = {
        "target_precision": target,
        "min_probability": cut,
        "min_support": SECONDARY_MIN_SUPPORT,
        "counted_right": "the secondary genre is the recording's labelled genre (a lower bound: one label each)",
        "valid_precision_of_most_confident": float(right[top].mean()) if len(top) else None,
        "valid_candidates": int(len(confidence)),
    }
    for split, data in (("valid", valid), ("test", test)):
        conf, ok = secondary_candidates(data[0], data[1], primary_cut)
        report[split] = {
            f"p>={c:.2f}": {
                "written": int((conf >= c).sum()),
                "precision": float(ok[conf >= c].mean()) if (conf >= c).any() else None,
            }
            for c in (0.1, 0.15, 0.2, 0.25, 0.3)
        }
        if cut is not None:
            report[split]["chosen"] = threshold_scores(conf, ok, cut)
    return report


def calibrate(model_path: Path, manifest: Path, tag_precision: float = 0.9) -> dict[str, Any]:
    """Fit T on valid, measure ECE on valid and test, choose the tag threshold; store both in the checkpoint."""
    classifier = GenreClassifier.load(model_path, device="cpu")
    valid_logits, valid_y, valid_families = split_logits(classifier, manifest, "valid")
    temperature = fit_temperature(valid_logits, valid_y)
    report: dict[str, Any] = {"temperature": temperature, "fitted_on": "valid", "bins": 10}
    calibrated = {}
    for split, (logits, y, families) in {
        "valid": (valid_logits, valid_y, valid_families),
        "test": split_logits(classifier, manifest, "test"),
    }.items():
        before, after = track_probs(logits, 1.0), track_probs(logits, temperature)
        calibrated[split] = (after, y, families)
        report[split] = {
            "ece_before": expected_calibration_error(before, y),
            "ece_after": expected_calibration_error(after, y),
            "nll_before": nll(before, y),
            "nll_after": nll(after, y),
        }
    report["tag_threshold"] = tag_threshold(calibrated["valid"], calibrated["test"], tag_precision)
    if report["tag_threshold"]["min_probability"] is not None:
        report["tag_threshold"]["secondary"] = secondary_threshold(
            calibrated["valid"], calibrated["test"], report["tag_threshold"]["min_probability"]
        )
    ckpt = load_checkpoint(model_path)
    for head in ("open_set", "mood"):  # fitted on uncalibrated outputs by their own commands: a new T keeps them
        if head in ckpt.calibration:
            report[head] = ckpt.calibration[head]
    save_checkpoint(model_path, ckpt.model, ckpt.config, ckpt.metrics, ckpt.training, report)
    write_metrics_index(model_path, load_checkpoint(model_path))
    return report
