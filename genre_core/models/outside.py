"""The outside head: which family of music a song of none of the ten genres sounds like.

The pretrained MSD head was trained on a million songs tagged electronic, electronica, dance, House,
soul, rnb, ambient, chillout… Our own examples of such music are few (the 4Q `other` recordings), so
the head does not learn the families from scratch: it reads one zero-shot score per family, the
margin by which the family's own tags (log-odds of the mean tag probabilities over the windows) beat
the strongest other genre-like tag, and a small multinomial logistic regression fitted on the `other`
recordings turns those margins into P(family | other music). Those few numbers are its whole
"learned correction": the breadth comes from the tags.

A family is named only for a song the open-set verdict calls other music (`is_other`), and its
probability is P(family | none of the ten): the verdict decides *whether* a song is outside the ten,
this head *which* music it sounds like. Stored in the checkpoint
as plain numbers and applied with numpy, like the detector and the mood head: both runtimes give
the same answer and the export does not change.

Fitted by `python -m genre_core outside` (artist-grouped cross-validation on train + valid, test
reported once).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .openset import transform

#: The key in a prediction and a table for "no family is likely".
UNKNOWN = "unknown"


@dataclass(frozen=True)
class OutsideHead:
    """Standardised multinomial logistic regression on per-family tag margins → P(family | other music)."""

    #: The families it names, in the order of `coef`'s rows; `UNKNOWN` is the last class.
    families: tuple[str, ...]
    #: family → the MSD tags that speak for it (the zero-shot anchors).
    anchors: dict[str, tuple[str, ...]]
    #: The genre-like MSD tags a family's anchors compete with (a margin = best anchor - best other of these).
    genre_like: tuple[str, ...]
    #: The tag labels of the model, in its output order (to find the anchors' columns).
    tag_labels: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray  # (families + 1, families)
    intercept: np.ndarray  # (families + 1,)
    #: `outside` names a family where P(family | other) reaches this (None: never named).
    name_threshold: float | None = None
    #: `write-tags` writes the family of a song the verdict holds back where P(family | other) reaches this
    #: (None: never written).
    write_threshold: float | None = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def classes(self) -> tuple[str, ...]:
        return (*self.families, UNKNOWN)

    def margins(self, tag_means: np.ndarray) -> np.ndarray:
        """`(n, tags)` mean tag probabilities → `(n, families)` zero-shot margins in log-odds."""
        logodds = transform("tags", np.atleast_2d(np.asarray(tag_means, np.float64)))
        column = {t: i for i, t in enumerate(self.tag_labels)}
        out = []
        for family in self.families:
            own = [column[t] for t in self.anchors[family]]
            rest = [column[t] for t in self.genre_like if t not in self.anchors[family]]
            out.append(logodds[:, own].max(axis=1) - logodds[:, rest].max(axis=1))
        return np.stack(out, axis=1)

    def conditional(self, margins: np.ndarray) -> np.ndarray:
        """`(n, families)` margins → `(n, families + 1)` P(class | other music), `UNKNOWN` last."""
        logits = ((margins - self.mean) / self.scale) @ self.coef.T + self.intercept
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)

    def family_probabilities(self, tag_probs: np.ndarray) -> dict[str, float]:
        """P(family | the song is none of the ten) for every family, from its windows' tags `(windows, tags)`."""
        conditional = self.conditional(self.margins(np.asarray(tag_probs).mean(axis=0)))[0]
        return {f: float(p) for f, p in zip(self.families, conditional, strict=False)}

    def outside(self, tag_probs: np.ndarray, is_other: bool | None) -> dict[str, Any] | None:
        """`{"genre": family, "probability": P(family | other)}` for a song the verdict calls other music, where
        its likeliest family reaches `name_threshold`; None for a song of the ten or when no family is likely."""
        if not is_other or self.name_threshold is None:
            return None
        probabilities = self.family_probabilities(tag_probs)
        family = max(probabilities, key=probabilities.get)
        if probabilities[family] < self.name_threshold:
            return None
        return {"genre": family, "probability": round(probabilities[family], 6)}

    def to_dict(self) -> dict[str, Any]:
        return {
            "families": list(self.families),
            "anchors": {k: list(v) for k, v in self.anchors.items()},
            "genre_like": list(self.genre_like),
            "tag_labels": list(self.tag_labels),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "coef": self.coef.tolist(),
            "intercept": self.intercept.tolist(),
            "name_threshold": self.name_threshold,
            "write_threshold": self.write_threshold,
            "info": self.info,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutsideHead:
        return cls(
            families=tuple(data["families"]),
            anchors={k: tuple(v) for k, v in data["anchors"].items()},
            genre_like=tuple(data["genre_like"]),
            tag_labels=tuple(data["tag_labels"]),
            mean=np.asarray(data["mean"], np.float64),
            scale=np.asarray(data["scale"], np.float64),
            coef=np.asarray(data["coef"], np.float64),
            intercept=np.asarray(data["intercept"], np.float64),
            name_threshold=None if data.get("name_threshold") is None else float(data["name_threshold"]),
            write_threshold=None if data.get("write_threshold") is None else float(data["write_threshold"]),
            info=dict(data.get("info") or {}),
        )
