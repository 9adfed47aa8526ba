"""Fit the open-set detector, choose its design by held-out data and its rule on valid, and measure it.

Every recording of the manifest (the ten genres and `other`) goes once through the shipped model's
own path; the detector (`models.openset`) then reads each recording's mean network outputs.

- **Design**, chosen like the genre model: by data left out of fitting, never by test. Each candidate
  (which outputs it reads) is scored by AUROC (a) per held-out source: fitted without that source's
  ten-genre recordings and without a fold of the `other` artists, scored on that source's ten-genre
  recordings against the held-out fold's `other` (five folds by artist); (b) per held-out family of
  `other` music (Electronic, R&B, Latin): fitted on train without that family, scored on valid's
  ten-genre recordings against every recording of that family. The rule: the mean of those AUROCs.
- **Rule**: the loosest threshold that flags at most 5 % of the ten-genre valid recordings.
- **Figures** on valid and on test (test reported once): AUROC, shares flagged, accuracy on the
  unflagged, and what `write-tags` would write at the shipped thresholds, alone and on a library
  of 70 % ten-genre and 30 % other songs.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from tqdm import tqdm

from ..aggregate import softmax
from ..classifier import GenreClassifier
from ..errors import GenreCoreError
from ..models.checkpoint import store_calibration
from ..models.openset import OpenSetDetector, transform
from .data import Recording, read_manifest

log = logging.getLogger("genre_core.train")
#: Families of `other` music (AllMusic genres in `source_genres`) held out in turn.
HELD_OUT_FAMILIES: tuple[str, ...] = ("Electronic", "R&B", "Latin")
HELD_OUT_SOURCES: tuple[str, ...] = ("gtzan", "4q", "emotify")
#: The detector's candidates: which network outputs it reads (a model without tags offers only genres).
CANDIDATES: dict[str, tuple[str, ...]] = {"genres+tags": ("genres", "tags"), "genres": ("genres",), "tags": ("tags",)}
#: The share of ten-genre valid recordings the rule may flag.
MAX_FLAGGED = 0.05
#: The library the write-tags figures are quoted for: this share of songs of the ten, the rest other music.
LIBRARY_TEN_SHARE = 0.7
#: The write rule's target: written genres right this often on that library, with at least MIN_WRITTEN written.
PRECISION = 0.9
MIN_WRITTEN = 30
REGULARISATION_C = 0.1
FOLDS = 5


@dataclass
class Outputs:
    """Each recording's mean network outputs and calibrated genre probabilities."""

    recs: list[Recording]
    means: dict[str, np.ndarray]  # name → (recordings, width): mean raw genre / tag probabilities over windows
    calibrated: np.ndarray  # (recordings, genres): the app's track probabilities (temperature applied)
    ok: np.ndarray  # decodable

    def inputs(self, names: tuple[str, ...]) -> np.ndarray:
        return np.concatenate([transform(name, self.means[name]) for name in names], axis=1)

    def select(self, mask: np.ndarray) -> Outputs:
        return Outputs(
            [r for r, m in zip(self.recs, mask, strict=True) if m],
            {k: v[mask] for k, v in self.means.items()},
            self.calibrated[mask],
            self.ok[mask],
        )

    def correct_and_confidence(self, labels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Whether each recording's top genre is its label (never, for `other`), and that genre's probability."""
        y = np.asarray([labels.index(r.genre) if r.genre in labels else -1 for r in self.recs])
        return self.calibrated.argmax(axis=1) == y, self.calibrated.max(axis=1)

    def column(self, attribute: str) -> np.ndarray:
        return np.asarray([getattr(r, attribute) for r in self.recs])


@torch.inference_mode()
def collect(classifier: GenreClassifier, recs: list[Recording], quiet: bool = False) -> Outputs:
    """One pass of each recording through the app's path (ten spread windows): its mean outputs."""
    genres, tags, calibrated, ok = [], [], [], []
    n = len(classifier.labels)
    for rec in tqdm(recs, desc="network outputs", disable=quiet):
        try:
            features = classifier.extract(rec.path, "spread")[2]
        except GenreCoreError:
            genres.append(np.full(n, 1.0 / n))
            tags.append(np.full(len(classifier.tag_labels), 0.5))
            calibrated.append(np.full(n, 1.0 / n))
            ok.append(False)
            continue
        logits, tag_probs = classifier.logits_and_tags(features)
        genres.append(softmax(logits).mean(axis=0))
        tags.append(tag_probs.mean(axis=0) if tag_probs is not None else np.zeros(0))
        calibrated.append(classifier.probabilities(logits).mean(axis=0))
        ok.append(True)
    means = {"genres": np.stack(genres)}
    if classifier.tag_labels:
        means["tags"] = np.stack(tags)
    return Outputs(recs, means, np.stack(calibrated), np.asarray(ok))


def fit_detector(x: np.ndarray, y: np.ndarray, names: tuple[str, ...], c: float = REGULARISATION_C) -> OpenSetDetector:
    """Balanced, standardised logistic regression (the standardisation kept in the detector)."""
    mean, scale = x.mean(axis=0), x.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced").fit((x - mean) / scale, y)
    return OpenSetDetector(names, mean, scale, model.coef_[0].astype(np.float64), float(model.intercept_[0]))


def held_out_scores(data: Outputs, names: tuple[str, ...]) -> dict[str, float]:
    """AUROC per held-out source and per held-out family of `other` (train + valid only), and their mean."""
    x, other = data.inputs(names), data.column("is_other")
    source, split, group = data.column("source"), data.column("split"), data.column("group")
    groups = sorted(set(group[other]))
    fold = {g: i % FOLDS for i, g in enumerate(np.random.default_rng(0).permutation(groups))}
    fold_of = np.asarray([fold.get(g, -1) for g in group])
    scores: dict[str, float] = {}
    for held in HELD_OUT_SOURCES:
        negatives = ~other & (source == held)
        if not negatives.any():
            continue
        negative_logit, positive_logits = np.zeros(negatives.sum()), []
        for k in range(FOLDS):
            positives = other & (fold_of == k)
            detector = fit_detector(x[~negatives & ~positives], other[~negatives & ~positives], names)
            negative_logit += detector.logit(x[negatives]) / FOLDS
            positive_logits.append(detector.logit(x[positives]))
        positive = np.concatenate(positive_logits)
        truth = np.r_[np.zeros(len(negative_logit)), np.ones(len(positive))]
        scores[held] = float(roc_auc_score(truth, np.r_[negative_logit, positive]))
    families = data.column("source_genres")
    for family in HELD_OUT_FAMILIES:
        member = other & np.asarray([family in f for f in families])
        if not member.any():
            continue
        fit_on = (split == "train") & ~member
        scored = member | (~other & (split == "valid"))
        detector = fit_detector(x[fit_on], other[fit_on], names)
        scores[family] = float(roc_auc_score(other[scored], detector.logit(x[scored])))
    scores["held_out_mean"] = float(np.mean(list(scores.values())))
    return scores


def platt(logit: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Probability calibration of the detector's logit on valid: p = sigmoid(a·logit + b)."""
    fitted = LogisticRegression(C=1e6, max_iter=5000).fit(logit[:, None], truth)
    return float(fitted.coef_[0, 0]), float(fitted.intercept_[0])


def choose_threshold(p_ten: np.ndarray, max_flagged: float = MAX_FLAGGED) -> float:
    """The loosest cut that flags at most `max_flagged` of the ten-genre recordings."""
    for cut in np.unique(p_ten):
        if np.mean(p_ten >= cut) <= max_flagged:
            return float(cut)
    return float(np.nextafter(p_ten.max(), 2.0))


def write_figures(
    correct: np.ndarray, top: np.ndarray, p_other: np.ndarray, other: np.ndarray, cut: float, max_other: float
) -> dict[str, Any]:
    """What `write-tags` writes when a genre needs p >= `cut` and the song p_other < `max_other`."""
    ten = ~other
    written = (top >= cut) & (p_other < max_other)
    share_ten = float(written[ten].mean())
    right = float(correct[ten & written].mean()) if (ten & written).any() else None
    share_other = float(written[other].mean()) if other.any() else 0.0
    library = LIBRARY_TEN_SHARE * share_ten
    precision = library * right / (library + (1 - LIBRARY_TEN_SHARE) * share_other) if right else None
    return {
        "min_probability": float(cut),
        "max_other_probability": None if not np.isfinite(max_other) else float(max_other),
        "ten_genre_written": share_ten,
        "ten_genre_written_right": right,
        "ten_genre_written_count": int((ten & written).sum()),
        "other_written": share_other,
        "other_written_count": int((other & written).sum()),
        "library_precision_70_30": precision,
    }


def choose_write_rule(
    correct: np.ndarray, top: np.ndarray, p_other: np.ndarray, other: np.ndarray, tag_cut: float
) -> tuple[float, float] | None:
    """The (genre cut, p_other cut) that writes the most ten-genre songs of valid at >= 90 % library precision.

    The library is 70 % songs of the ten and 30 % other music; at least 30 written songs; the genre cut
    never goes below the model's own tag threshold. None when no pair qualifies.
    """
    best: tuple[float, float, float] | None = None
    for cut in np.round(np.arange(tag_cut, 0.96, 0.01), 2):
        for max_other in np.unique(np.r_[p_other, np.inf]):
            f = write_figures(correct, top, p_other, other, max(cut, tag_cut), max_other)
            enough = f["ten_genre_written_count"] >= MIN_WRITTEN and (f["library_precision_70_30"] or 0) >= PRECISION
            if enough and (best is None or f["ten_genre_written"] > best[0]):
                best = (f["ten_genre_written"], float(max(cut, tag_cut)), float(max_other))
    return None if best is None else (best[1], best[2])


def figures(
    data: Outputs,
    detector: OpenSetDetector,
    labels: tuple[str, ...],
    tag_cut: float | None,
    write_rule: tuple[float, float] | None,
) -> dict[str, Any]:
    """AUROC, flagged shares, accuracy on the unflagged, and write-tags at the shipped thresholds."""
    other = data.column("is_other")
    p_other = detector.probability(data.inputs(detector.inputs))
    flagged = p_other >= (detector.threshold if detector.threshold is not None else np.inf)
    ten = ~other
    correct, top = data.correct_and_confidence(labels)
    separable = 0 < other.sum() < len(other)
    out: dict[str, Any] = {
        "ten_genre_recordings": int(ten.sum()),
        "other_recordings": int(other.sum()),
        "auroc": float(roc_auc_score(other, p_other)) if separable else None,
        "other_flagged": float(flagged[other].mean()) if other.any() else None,
        "ten_genre_flagged": float(flagged[ten].mean()),
        "accuracy_unflagged": float(correct[ten & ~flagged].mean()),
        "accuracy_all_ten": float(correct[ten].mean()),
        # The closed-set baseline: 1 - the top genre's calibrated probability as the score.
        "auroc_max_probability": float(roc_auc_score(other, 1 - top)) if separable else None,
    }
    if tag_cut is not None:
        out["write_tags_without_verdict"] = write_figures(correct, top, p_other, other, tag_cut, np.inf)
        out["write_tags_with_verdict"] = write_figures(correct, top, p_other, other, tag_cut, detector.threshold)
    if write_rule is not None:
        out["write_tags"] = write_figures(correct, top, p_other, other, *write_rule)
    return out


def fit_open_set(model: str | Path | None, manifest: Path, c: float = REGULARISATION_C) -> dict[str, Any]:
    """Fit the shipped model's detector: design by held-out data, rule and Platt scaling on valid, figures on test."""
    classifier = GenreClassifier.load(model, device="cpu")
    recs = read_manifest(manifest, classifier.labels, include_other=True)
    data = collect(classifier, recs)
    data = data.select(data.ok)
    split = data.column("split")
    pool = data.select(split != "test")
    candidates = {name: names for name, names in CANDIDATES.items() if all(n in data.means for n in names)}
    table = {name: held_out_scores(pool, names) for name, names in candidates.items()}
    chosen = max(table, key=lambda name: table[name]["held_out_mean"])
    names = candidates[chosen]
    train, valid, test = (data.select(split == s) for s in ("train", "valid", "test"))
    detector = fit_detector(train.inputs(names), train.column("is_other"), names, c)
    valid_other = valid.column("is_other")
    a, b = platt(detector.logit(valid.inputs(names)), valid_other)
    detector = replace(detector, platt=(a, b))
    p_valid = detector.probability(valid.inputs(names))
    threshold = choose_threshold(p_valid[~valid_other])
    tag_cut = classifier.checkpoint.calibration.get("tag_threshold", {}).get("min_probability")
    info: dict[str, Any] = {
        "design": chosen,
        "regularisation_c": c,
        "rule": f"flag at most {MAX_FLAGGED:.0%} of the ten-genre valid recordings",
        "fitted_on": "train (ten genres + other); Platt scaling and threshold on valid",
        "holdout": {"candidates": table, "chosen": chosen},
    }
    detector = replace(detector, threshold=threshold, info=info)
    write_rule = None
    if tag_cut is not None:
        correct, top = valid.correct_and_confidence(classifier.labels)
        write_rule = choose_write_rule(correct, top, p_valid, valid_other, tag_cut)
    info["write_rule"] = (
        {
            "min_probability": write_rule[0],
            "max_other_probability": write_rule[1] if np.isfinite(write_rule[1]) else None,
            "rule": f"the most songs of the ten written on valid at >= {PRECISION:.0%} precision on a library of "
            f"{LIBRARY_TEN_SHARE:.0%} songs of the ten and {1 - LIBRARY_TEN_SHARE:.0%} other music",
        }
        if write_rule
        else None
    )
    info["valid"] = figures(valid, detector, classifier.labels, tag_cut, write_rule)
    info["test"] = figures(test, detector, classifier.labels, tag_cut, write_rule)
    store_calibration(classifier.checkpoint.path, "open_set", detector.to_dict())
    return detector.to_dict()
