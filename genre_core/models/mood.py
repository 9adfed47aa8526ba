"""The mood head: the song's emotion quadrant (Q1-Q4) from what the pretrained network already hears.

A multinomial logistic regression on the log-odds of the mean of the 50 MSD tag probabilities over
the song's windows (happy, sad, mellow, chill, party… are among them), with a temperature fitted on
valid. Like the open-set detector it is stored in the checkpoint as plain numbers and applied with
numpy outside the network graph: it reads the tag output that both runtimes (PyTorch, the ONNX
export) produce, so the export is unchanged and the mood is the same on both (a test keeps it so).
A model without a tag head (the fast CRNN) has no mood.

Fitted by `python -m genre_core mood`: the regularisation chosen by 5-fold cross-validation by artist
on the 4Q train and valid recordings, the head fitted on train, the temperature and the write
threshold on valid, test reported once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..config import HIGH_AROUSAL, MOOD_LABELS, MOODS, POSITIVE_VALENCE
from .openset import transform


@dataclass(frozen=True)
class MoodHead:
    """Standardised multinomial logistic regression on mean tag log-odds → P(Q1..Q4)."""

    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (4, features)
    intercept: np.ndarray  # (4,)
    temperature: float = 1.0
    #: A mood is written into files only at or above this probability (chosen on valid; None: no rule).
    write_threshold: float | None = None
    info: dict[str, Any] = field(default_factory=dict)
    inputs: tuple[str, ...] = ("tags",)

    def features(self, tag_means: np.ndarray) -> np.ndarray:
        return transform("tags", np.atleast_2d(tag_means))

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """`(n, features)` → `(n, 4)` calibrated quadrant probabilities."""
        logits = ((x - self.mean) / self.scale) @ self.coef.T + self.intercept
        logits = logits / self.temperature
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def mood(self, tag_probs: np.ndarray) -> dict[str, Any]:
        """A song's mood from its windows' tag probabilities `(windows, 50)`: the JSON the outputs share."""
        probs = self.probabilities(self.features(np.asarray(tag_probs).mean(axis=0)))[0]
        return mood_record(probs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
            "temperature": float(self.temperature),
            "write_threshold": self.write_threshold,
            "info": self.info,
            "inputs": list(self.inputs),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MoodHead:
        return cls(
            np.asarray(data["mean"], np.float64),
            np.asarray(data["scale"], np.float64),
            np.asarray(data["coef"], np.float64),
            np.asarray(data["intercept"], np.float64),
            float(data.get("temperature", 1.0)),
            None if data.get("write_threshold") is None else float(data["write_threshold"]),
            dict(data.get("info") or {}),
            tuple(data.get("inputs", ("tags",))),
        )


def mood_record(probs: np.ndarray) -> dict[str, Any]:
    """`{"quadrant", "label", "probabilities", "arousal", "valence"}` from four quadrant probabilities."""
    by_quadrant = {q: float(p) for q, p in zip(MOODS, probs, strict=True)}
    quadrant = max(by_quadrant, key=by_quadrant.get)
    return {
        "quadrant": quadrant,
        "label": MOOD_LABELS[quadrant],
        "probabilities": {q: round(p, 6) for q, p in by_quadrant.items()},
        "arousal": round(sum(by_quadrant[q] for q in HIGH_AROUSAL), 6),
        "valence": round(sum(by_quadrant[q] for q in POSITIVE_VALENCE), 6),
    }
