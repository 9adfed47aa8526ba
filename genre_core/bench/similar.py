"""`bench --similar`: query time and memory of `similar` on synthetic tables of 10,000 to 1,000,000 songs.

Synthetic rows: random unit vectors of the shipped embedding's width, stored in float16 and searched in
float32 as a real table is. Per size: the search (a partial sort of the similarities, median of 20) beside the
same search with a full sort (the baseline, same run); one whole `similar` call (filters and the listing
too); 32 queries one after another; and the index's memory.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..similarity import LibraryIndex, similar

SIZES = (10_000, 100_000, 1_000_000)


def synthetic_index(songs: int, width: int, seed: int = 0) -> LibraryIndex:
    rng = np.random.default_rng(seed)
    vectors = rng.standard_normal((songs, width), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    vectors = vectors.astype(np.float16).astype(np.float32)
    rows = pd.DataFrame({"path": [f"/music/{i:07d}.flac" for i in range(songs)], "genre": "jazz"})
    return LibraryIndex(Path("synthetic"), rows, vectors, "synthetic")


def full_sort(index: LibraryIndex, query: np.ndarray, k: int) -> np.ndarray:
    """The baseline: every similarity sorted."""
    return np.argsort(-(index.vectors @ query))[:k]


def median_ms(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def bench_similar(width: int, sizes: tuple[int, ...] = SIZES, k: int = 10) -> list[dict[str, Any]]:
    rows = []
    for songs in sizes:
        index = synthetic_index(songs, width)
        queries = index.vectors[np.random.default_rng(1).integers(0, songs, 32)]
        search = median_ms(lambda q=queries[0], ix=index: ix.nearest(q, k), 20)
        baseline = median_ms(lambda q=queries[0], ix=index: full_sort(ix, q, k), 5)
        single = median_ms(lambda q=queries[0], ix=index: similar(ix, q, k, exclude=0), 20)
        start = time.perf_counter()
        for q in queries:
            similar(index, q, k)
        batch = 1000 * (time.perf_counter() - start)
        rows.append(
            {
                "songs": songs,
                "width": width,
                "search_ms": round(search, 2),
                "full_sort_baseline_ms": round(baseline, 2),
                "speedup_vs_full_sort": round(baseline / search, 2),
                "single_query_ms": round(single, 2),
                "batch_32_queries_ms": round(batch, 1),
                "index_mb": round((index.vectors.nbytes + index.rows.memory_usage(deep=True).sum()) / 2**20, 1),
                "vectors_mb": round(index.vectors.nbytes / 2**20, 1),
            }
        )
        del index
    return rows
