"""A 2-D map of a library: each song's embedding placed on the plane, songs that sound alike near each other.

t-SNE (scikit-learn, Barnes-Hut): on the dataset's train + valid songs a song's nearest neighbour on the map
shares its genre about as often as in the embedding itself, where PCA's two axes lose most of that
(`python -m genre_core embedding` measures both; the figures are in docs/model.md). t-SNE is not instant, so
`tag` computes the map once per run and stores it in the table (`map_x`, `map_y`); a new song is placed
at the mean place of its nearest songs. Where scikit-learn is missing (the serve install), PCA stands in,
and says so.
"""

from __future__ import annotations

import contextlib
import threading

import numpy as np

#: Below this many songs t-SNE has too few neighbours to place (its perplexity): PCA draws them.
TSNE_MIN_SONGS = 12


def pca_projection(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(coordinates (n, 2), the mean, the two axes (2, width)): the axes place any new embedding too."""
    mean = vectors.mean(axis=0)
    centred = vectors - mean
    if len(vectors) < 2:
        return np.zeros((len(vectors), 2)), mean, np.zeros((2, vectors.shape[1]))
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    axes = vt[:2] if vt.shape[0] >= 2 else np.vstack([vt, np.zeros_like(vt)])
    return centred @ axes.T, mean, axes


def preload_tsne() -> threading.Thread:
    """Import scikit-learn's t-SNE in a background thread: about a second of imports that `tag` would otherwise
    pay after the last song, overlapped with classifying instead. Start it only once no process will fork
    from this one (a child forked while a thread holds an import lock can hang on that import)."""

    def load() -> None:
        with contextlib.suppress(ImportError):  # the serve install: library_map falls back to PCA and says so
            import sklearn.manifold  # noqa: F401

    thread = threading.Thread(target=load, name="preload-tsne", daemon=True)
    thread.start()
    return thread


def tsne_map(vectors: np.ndarray, seed: int = 0) -> np.ndarray:
    """t-SNE coordinates `(n, 2)` (PCA initialised, so the same table gives the same map)."""
    if len(vectors) < TSNE_MIN_SONGS:  # PCA draws them: no need to import scikit-learn at all
        return pca_projection(vectors)[0]
    from sklearn.manifold import TSNE

    perplexity = min(30.0, (len(vectors) - 1) / 3)
    return TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed).fit_transform(vectors)


def library_map(vectors: np.ndarray) -> tuple[np.ndarray, str]:
    """(coordinates, the method's name): t-SNE where scikit-learn is installed and the library is big enough,
    else PCA, with the reason in its name (the Library page shows it)."""
    if len(vectors) < TSNE_MIN_SONGS:
        return pca_projection(vectors)[0], f"PCA (t-SNE needs at least {TSNE_MIN_SONGS} songs)"
    coordinates = pca_projection(vectors)[0]
    if coordinates[:, 0].std() < 1e-9:  # every song the same: t-SNE's PCA start divides by this spread and crashes
        return coordinates, "PCA (all songs sound the same to the model: nothing for t-SNE to spread)"
    try:
        return tsne_map(vectors), "t-SNE"
    except ModuleNotFoundError:
        return pca_projection(vectors)[0], "PCA (scikit-learn is not installed, so no t-SNE)"


def place(coordinates: np.ndarray, vectors: np.ndarray, query: np.ndarray, k: int = 5) -> np.ndarray:
    """Where a song that is not on the map goes: the mean place of its `k` most similar songs."""
    nearest = np.argsort(-(vectors @ query))[: min(k, len(vectors))]
    return coordinates[nearest].mean(axis=0)


def neighbour_agreement(coordinates: np.ndarray, labels: np.ndarray) -> float:
    """How often a song's nearest other song on the map has its label: how much structure the map keeps."""
    squared = (coordinates**2).sum(axis=1)
    distance = squared[:, None] + squared[None, :] - 2 * coordinates @ coordinates.T
    np.fill_diagonal(distance, np.inf)
    return float((labels[distance.argmin(axis=1)] == labels).mean())
