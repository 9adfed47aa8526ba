"""Why this genre? Occlusion saliency over one window's log-mel.

Each patch of the spectrogram is replaced by the training set's average
level for those mel bands (what the model treats as "nothing special"),
and the drop in the genre's probability is that patch's saliency. It needs
no gradients, works for any model, and is deterministic.
"""

from __future__ import annotations

import numpy as np

from .classifier import GenreClassifier


def occlude(features: np.ndarray, band_mean: np.ndarray, f0: int, t0: int, size: tuple[int, int]) -> np.ndarray:
    """A copy of `(n_mels, frames)` features with one patch set to the band means."""
    out = features.copy()
    out[f0 : f0 + size[0], t0 : t0 + size[1]] = band_mean[f0 : f0 + size[0], None]
    return out


def occlusion_saliency(
    classifier: GenreClassifier,
    features: np.ndarray,
    genre: str,
    patch: tuple[int, int] | None = None,
    stride: tuple[int, int] | None = None,
) -> np.ndarray:
    """`(n_mels, frames)` map: how much hiding each region lowers P(genre).

    Overlapping patches are averaged per pixel. Positive values mark regions
    that support the genre; negative values, regions that argue against it.
    The occluded copies run through the classifier's network in its batches (ONNX Runtime on a CPU).
    """
    x = np.asarray(features, dtype=np.float32)
    # Each family sets its grid by its cost: ~400 passes of the small CRNN, ~100 of musicnn.
    default_patch, default_stride = classifier.info.saliency_grid
    patch, stride = patch or default_patch, stride or default_stride
    index = classifier.labels.index(genre)
    band_mean = classifier.info.band_mean
    mels, frames = x.shape
    f_starts = list(range(0, max(1, mels - patch[0]) + 1, stride[0]))
    t_starts = list(range(0, max(1, frames - patch[1]) + 1, stride[1]))
    if t_starts[-1] + patch[1] < frames:
        t_starts.append(frames - patch[1])
    positions = [(f0, t0) for f0 in f_starts for t0 in t_starts]
    batch = np.stack([x] + [occlude(x, band_mean, f0, t0, patch) for f0, t0 in positions])
    probs = classifier.predict_features(batch)[:, index]
    base, occluded = probs[0], probs[1:]
    total = np.zeros((mels, frames))
    counts = np.zeros((mels, frames))
    for (f0, t0), p in zip(positions, occluded, strict=True):
        total[f0 : f0 + patch[0], t0 : t0 + patch[1]] += base - p
        counts[f0 : f0 + patch[0], t0 : t0 + patch[1]] += 1
    return total / np.maximum(counts, 1)
