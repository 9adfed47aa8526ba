"""Fit the mood head on the 4Q recordings' emotion quadrants, calibrate it and measure it.

- **Input**: the log-odds of each recording's mean MSD tag probabilities over its ten spread windows
  (what the pretrained head hears: happy, sad, mellow, chill, party, …). An exploration by artist-grouped
  cross-validation on train + valid found the tags as good as the 200-d pretrained penultimate layer
  (quadrant accuracy 0.70 against 0.69) and better than tags + genre probabilities (0.67); the tags are
  an output of the ONNX export already, so the head needs no change to the graph.
- **Design**: the regularisation C, by 5-fold cross-validation grouped by artist on the 4Q train + valid
  recordings that have a mood (mean quadrant macro-F1).
- **Fit** on train; **temperature** and the **write threshold** on valid (the loosest cut at which written
  moods are right >= 80 %, at that cut and every stricter one with >= 20 recordings); **test** reported once.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score
from sklearn.model_selection import GroupKFold

from ..classifier import GenreClassifier
from ..config import HIGH_AROUSAL, MOODS, POSITIVE_VALENCE
from ..errors import UsageError
from ..models.checkpoint import store_calibration
from ..models.mood import MoodHead
from ..models.openset import transform
from .calibrate import precision_threshold, threshold_scores
from .data import read_manifest
from .openset import Outputs, collect

log = logging.getLogger("genre_core.train")
CANDIDATE_C: tuple[float, ...] = (0.03, 0.1, 0.3, 1.0)
#: Written moods must be right this often on valid, at the cut and every stricter one with MIN_SUPPORT recordings.
WRITE_PRECISION = 0.8
MIN_SUPPORT = 20
FOLDS = 5


def fit_head(x: np.ndarray, y: np.ndarray, c: float) -> MoodHead:
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    model = LogisticRegression(C=c, max_iter=5000).fit((x - mean) / scale, y)
    coef, intercept = np.zeros((len(MOODS), x.shape[1])), np.full(len(MOODS), -30.0)
    coef[model.classes_], intercept[model.classes_] = model.coef_, model.intercept_  # a quadrant never seen: p ~ 0
    return MoodHead(mean, scale, coef, intercept)


def cross_validate(x: np.ndarray, y: np.ndarray, groups: np.ndarray, c: float) -> dict[str, float]:
    """Quadrant accuracy and macro-F1 of artist-grouped folds (no artist on both sides)."""
    predicted = np.zeros_like(y)
    for train, held in GroupKFold(min(FOLDS, len(set(groups)))).split(x, y, groups):
        predicted[held] = fit_head(x[train], y[train], c).probabilities(x[held]).argmax(axis=1)
    return {"accuracy": float(accuracy_score(y, predicted)), "macro_f1": float(f1_score(y, predicted, average="macro"))}


def fit_temperature(head: MoodHead, x: np.ndarray, y: np.ndarray) -> float:
    def nll(t: float) -> float:
        probs = MoodHead(head.mean, head.scale, head.coef, head.intercept, t).probabilities(x)
        return float(-np.log(np.clip(probs[np.arange(len(y)), y], 1e-12, 1)).mean())

    return float(minimize_scalar(nll, bounds=(0.05, 10.0), method="bounded").x)


def scores(probs: np.ndarray, y: np.ndarray, cut: float | None) -> dict[str, Any]:
    """Quadrant accuracy and macro-F1, arousal and valence accuracy, the confusion matrix, written moods."""
    predicted = probs.argmax(axis=1)
    quadrants, truth = np.asarray(MOODS)[predicted], np.asarray(MOODS)[y]
    high = np.isin(quadrants, HIGH_AROUSAL) == np.isin(truth, HIGH_AROUSAL)
    positive = np.isin(quadrants, POSITIVE_VALENCE) == np.isin(truth, POSITIVE_VALENCE)
    out: dict[str, Any] = {
        "recordings": int(len(y)),
        "accuracy": float(accuracy_score(y, predicted)),
        "macro_f1": float(f1_score(y, predicted, average="macro", labels=range(len(MOODS)), zero_division=0)),
        "arousal_accuracy": float(high.mean()),
        "valence_accuracy": float(positive.mean()),
        "confusion_matrix": confusion_matrix(y, predicted, labels=range(len(MOODS))).tolist(),
    }
    if cut is not None:
        out["written"] = threshold_scores(probs.max(axis=1), predicted == y, cut)
    return out


def mood_outputs(classifier: GenreClassifier, manifest: Path) -> Outputs:
    if not classifier.tag_labels:
        raise UsageError("the mood head reads the pretrained tags: this model has none (use musicnn_crnn)")
    recs = [r for r in read_manifest(manifest, classifier.labels, include_other=True) if r.mood in MOODS]
    data = collect(classifier, recs)
    return data.select(data.ok)


def fit_mood(model: str | Path | None, manifest: Path) -> dict[str, Any]:
    """Choose C by artist-grouped CV on train + valid, fit on train, calibrate on valid, report test; store it."""
    classifier = GenreClassifier.load(model, device="cpu")
    data = mood_outputs(classifier, manifest)
    x = transform("tags", data.means["tags"])
    y = np.asarray([MOODS.index(r.mood) for r in data.recs])
    split, groups = data.column("split"), data.column("group")
    pool = split != "test"
    cv = {str(c): cross_validate(x[pool], y[pool], groups[pool], c) for c in CANDIDATE_C}
    c = float(max(cv, key=lambda k: cv[k]["macro_f1"]))
    train, valid, test = (split == s for s in ("train", "valid", "test"))
    head = fit_head(x[train], y[train], c)
    temperature = fit_temperature(head, x[valid], y[valid])
    head = MoodHead(head.mean, head.scale, head.coef, head.intercept, temperature)
    valid_probs = head.probabilities(x[valid])
    cut = precision_threshold(
        valid_probs.max(axis=1), valid_probs.argmax(axis=1) == y[valid], WRITE_PRECISION, MIN_SUPPORT
    )
    info = {
        "reads": "log-odds of the mean MSD tag probabilities over the ten spread windows",
        "regularisation_c": c,
        "chosen_by": f"{FOLDS}-fold cross-validation grouped by artist on the 4Q train + valid recordings",
        "cross_validation": cv,
        "fitted_on": "train; temperature and write threshold on valid",
        "write_rule": f"the loosest cut at which written moods are right >= {WRITE_PRECISION:.0%} on valid, "
        f"at that cut and every stricter one with >= {MIN_SUPPORT} recordings",
        "valid": scores(valid_probs, y[valid], cut),
        "test": scores(head.probabilities(x[test]), y[test], cut),
    }
    head = MoodHead(head.mean, head.scale, head.coef, head.intercept, temperature, cut, info)
    store_calibration(classifier.checkpoint.path, "mood", head.to_dict())
    return head.to_dict()
