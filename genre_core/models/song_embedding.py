"""The song embedding: what `similar`, `playlist` and the Library page compare songs by.

A fixed function of the network's own outputs, mean over the song's windows: the genre log-probabilities
and, for a model with the pretrained tag head, the MSD tag log-odds, each z-scored with statistics of the
train split and the whole made unit length, so cosine similarity is a dot product. Which inputs was chosen
by retrieval on valid (`python -m genre_core embedding`); the statistics travel in the checkpoint (and its
serving sidecar), so every install embeds a song the same way, torch or not.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

#: Stored in float16 in tables: ±65504 and 3 significant digits are plenty for unit vectors.
TABLE_DTYPE = np.float16


@dataclass(frozen=True)
class SongEmbedding:
    inputs: tuple[str, ...]  # "genres", "tags"
    mean: np.ndarray
    scale: np.ndarray
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def width(self) -> int:
        return int(self.mean.shape[0])

    def raw(self, genre_probs: np.ndarray, tag_probs: np.ndarray | None) -> np.ndarray:
        """The inputs before scaling: log-probabilities of the genres, log-odds of the tags (`(..., width)`)."""
        parts = []
        for name in self.inputs:
            if name == "genres":
                parts.append(np.log(np.clip(genre_probs, 1e-6, 1.0)))
            elif name == "tags":
                if tag_probs is None:
                    raise ValueError("this embedding reads the MSD tags, and the model has no tag head")
                clipped = np.clip(tag_probs, 1e-6, 1 - 1e-6)
                parts.append(np.log(clipped / (1 - clipped)))
            else:
                raise ValueError(f"unknown embedding input '{name}'")
        return np.concatenate(parts, axis=-1)

    def __call__(self, genre_probs: np.ndarray, tag_probs: np.ndarray | None) -> np.ndarray:
        """Unit-length embedding(s) from mean genre probabilities and mean tag probabilities."""
        z = (self.raw(genre_probs, tag_probs) - self.mean) / self.scale
        norm = np.linalg.norm(z, axis=-1, keepdims=True)
        return (z / np.maximum(norm, 1e-9)).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """Plain Python types only: a checkpoint is read with `weights_only`, which refuses numpy scalars."""
        info = json.loads(json.dumps(self.info, default=float))
        return {
            "inputs": list(self.inputs),
            "mean": self.mean.tolist(),
            "scale": self.scale.tolist(),
            "info": info,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SongEmbedding:
        return cls(tuple(data["inputs"]), np.asarray(data["mean"]), np.asarray(data["scale"]), data.get("info", {}))

    @classmethod
    def fit(cls, inputs: tuple[str, ...], genre_probs: np.ndarray, tag_probs: np.ndarray | None, **info: Any):
        """Statistics of the given (train) songs' outputs."""
        template = cls(inputs, np.zeros(1), np.ones(1))
        raw = template.raw(genre_probs, tag_probs)
        scale = raw.std(axis=0)
        return cls(inputs, raw.mean(axis=0), np.where(scale > 1e-9, scale, 1.0), info)


def to_text(vector: Any) -> Any:
    """A table cell for CSV: the numbers joined by spaces (pandas would write a truncated numpy repr)."""
    if vector is None or (isinstance(vector, float) and np.isnan(vector)) or isinstance(vector, str):
        return vector
    return " ".join(f"{v:.4g}" for v in np.asarray(vector, dtype=np.float32))


def from_cell(cell: Any) -> np.ndarray | None:
    """An embedding from a table cell (Parquet: a list of float16; CSV: `to_text`), or None where there is none."""
    if cell is None or (isinstance(cell, float) and np.isnan(cell)):
        return None
    if isinstance(cell, str):
        return np.asarray(cell.split(), dtype=np.float32) if cell.strip() else None
    return np.asarray(cell, dtype=np.float32)
