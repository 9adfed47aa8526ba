"""Turn per-window probabilities into one song-level distribution.

- mean: average belief over the windows (the default, most stable).
- median: per genre, the middle window's belief; robust to a few odd windows.
- max: per genre, its strongest window; surfaces a style that appears briefly.

Median and max do not sum to one across genres, so they are divided by
their sum: the result is always a distribution comparable with mean.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

METHODS: tuple[str, ...] = ("mean", "median", "max")


def aggregate(window_probs: np.ndarray, method: str = "mean") -> np.ndarray:
    """`(n_windows, n_classes)` → `(n_classes,)` summing to 1."""
    combined = per_column(window_probs, method)
    total = combined.sum()
    return combined / total if total > 0 else np.full_like(combined, 1 / combined.size)


def per_column(window_probs: np.ndarray, method: str = "mean") -> np.ndarray:
    """`(n_windows, n)` → `(n,)`: each column's mean, median or max over the windows, not rescaled.

    What independent probabilities (the MSD tags: one yes/no guess per tag) aggregate to: a tag heard in
    54 % of one window keeps 54 % under max, whatever the other tags do.
    """
    probs = np.asarray(window_probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[0] == 0:
        raise ValueError("window_probs must be a non-empty (n_windows, n_classes) array")
    if method == "mean":
        return probs.mean(axis=0)
    if method == "median":
        return np.median(probs, axis=0)
    if method == "max":
        return probs.max(axis=0)
    raise ValueError(f"Unknown aggregation '{method}'; choose one of {METHODS}.")


def top_k(probs: np.ndarray, labels: Sequence[str], k: int = 5) -> list[tuple[str, float]]:
    """The `k` most likely genres, most likely first (ties keep label order)."""
    if k < 1:
        raise ValueError("k must be at least 1")
    order = np.argsort(-np.asarray(probs), kind="stable")[:k]
    return [(labels[i], float(probs[i])) for i in order]


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of `(..., n_classes)` logits divided by `temperature`, in float32 as the network's outputs."""
    scaled = np.asarray(logits, dtype=np.float32) / np.float32(temperature)
    exp = np.exp(scaled - scaled.max(axis=-1, keepdims=True))
    return exp / exp.sum(axis=-1, keepdims=True)
