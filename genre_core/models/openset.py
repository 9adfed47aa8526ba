"""The open-set detector: is this song none of the ten genres?

A closed-set classifier names one of its genres for anything. The detector reads what the network
already computes for every window (the calibrated genre probabilities and, for the transfer CRNN,
the pretrained head's 50 MSD tag probabilities) and gives the probability that a recording is
music of none of the ten. It is a standardised logistic regression, stored in the checkpoint as
plain numbers and applied with numpy outside the network graph, so the ONNX export stays as it is
and the cost per song is a dot product.

Fitted by `python -m genre_core openset` (train split, with the manifest's `other` recordings as
known unknowns), its design chosen by held-out sources and held-out families of `other` music; the
rule (`threshold`) is chosen on valid by `calibrate`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: What a detector may read, per window: the network's outputs that every runtime produces.
INPUTS = ("genres", "tags")


@dataclass(frozen=True)
class OpenSetDetector:
    """Logistic regression on the mean (or per-window) network outputs → P(none of the ten genres)."""

    inputs: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray
    intercept: float
    #: Platt scaling fitted on valid: p = sigmoid(a · logit + b).
    platt: tuple[float, float] = (1.0, 0.0)
    #: `is_other` when the recording's probability reaches this (chosen on valid by `calibrate`).
    threshold: float | None = None
    #: Design, figures and provenance, for the report (not used to score).
    info: dict[str, Any] = field(default_factory=dict)

    def features(self, outputs: dict[str, np.ndarray]) -> np.ndarray:
        """`(windows, …)` per-window outputs by name → the detector's `(windows, n_features)` input."""
        missing = [name for name in self.inputs if outputs.get(name) is None]
        if missing:
            raise ValueError(f"the open-set detector reads {', '.join(missing)}, which this model does not output")
        return np.concatenate([transform(name, np.asarray(outputs[name], np.float64)) for name in self.inputs], axis=1)

    def logit(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale) @ self.coef + self.intercept

    def probability(self, x: np.ndarray) -> np.ndarray:
        a, b = self.platt
        return 1.0 / (1.0 + np.exp(-(a * self.logit(x) + b)))

    def track_probability(self, outputs: dict[str, np.ndarray]) -> float:
        """The whole recording's probability: the detector on its windows' mean outputs (the track's genres, tags)."""
        means = {name: None if v is None else np.asarray(v).mean(axis=0, keepdims=True) for name, v in outputs.items()}
        return float(self.probability(self.features(means))[0])

    def window_probabilities(self, outputs: dict[str, np.ndarray]) -> np.ndarray:
        return self.probability(self.features(outputs))

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": list(self.inputs),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": float(self.intercept),
            "platt": [float(v) for v in self.platt],
            "threshold": self.threshold,
            "info": self.info,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OpenSetDetector:
        return cls(
            inputs=tuple(data["inputs"]),
            mean=np.asarray(data["mean"], np.float64),
            scale=np.asarray(data["scale"], np.float64),
            coef=np.asarray(data["coef"], np.float64),
            intercept=float(data["intercept"]),
            platt=(float(data["platt"][0]), float(data["platt"][1])),
            threshold=None if data.get("threshold") is None else float(data["threshold"]),
            info=dict(data.get("info") or {}),
        )


def transform(name: str, values: np.ndarray) -> np.ndarray:
    """Probabilities → log-odds (tags) or log-probabilities (genres): linear in what a logistic model adds up."""
    if name not in INPUTS:
        raise ValueError(f"unknown detector input '{name}' (known: {', '.join(INPUTS)})")
    clipped = np.clip(values, 1e-6, 1 - 1e-6)
    return np.log(clipped / (1 - clipped)) if name == "tags" else np.log(clipped)


def genre_write_cut(calibration: Mapping[str, Any]) -> float | None:
    """The probability at which a genre of the ten is written: the stricter of `calibrate`'s tag threshold and
    the open-set write rule's genre cut (None: the model measured neither). The verdict yields to a chart
    whose top genre reaches it, and `write-tags` writes at it, so both read this one function."""
    rule = ((calibration.get("open_set") or {}).get("info") or {}).get("write_rule") or {}
    cuts = [rule.get("min_probability"), (calibration.get("tag_threshold") or {}).get("min_probability")]
    found = [float(c) for c in cuts if c is not None]
    return max(found) if found else None


def verdict(other_probability: Any, top_probability: Any, threshold: float, genre_cut: float | None) -> Any:
    """None of the ten genres: P(other) reaches the threshold, unless the top genre of the ten reaches the cut at
    which genres are written and is surer than the verdict, so the verdict never contradicts a chart that a
    library would write. Works on numbers and on numpy arrays alike."""
    flagged = np.asarray(other_probability) >= threshold
    if genre_cut is not None:
        top = np.asarray(top_probability)
        flagged = flagged & ~((top >= genre_cut) & (top > np.asarray(other_probability)))
    return flagged if flagged.ndim else bool(flagged)
