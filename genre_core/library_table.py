"""What a tag table holds for similar songs: which rows still need an embedding, and the library's map."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .models.song_embedding import from_cell


def rows_without_embedding(frame: pd.DataFrame) -> set[str]:
    """Classified rows with no song embedding (a table made before embeddings): `tag` classifies them again."""
    if frame.empty:
        return set()
    if "embedding" not in frame.columns:
        return set(frame["path"])
    errors = frame["error"] if "error" in frame.columns else pd.Series([None] * len(frame))
    return {
        p
        for p, e, err in zip(frame["path"], frame["embedding"], errors, strict=True)
        if from_cell(e) is None and not isinstance(err, str)
    }


def with_map(frame: pd.DataFrame) -> pd.DataFrame:
    """The Library page's map (`library_map`) stored in the table: `map_x`, `map_y` of every embedded song.

    Computed once per run over the whole table (a t-SNE map is not incremental), so the page opens at once.
    """
    from .library_map import library_map

    if "embedding" not in frame.columns:
        return frame
    vectors = [from_cell(v) for v in frame["embedding"]]
    rows = [i for i, v in enumerate(vectors) if v is not None]
    if not rows:
        return frame
    coordinates, method = library_map(np.stack([vectors[i] for i in rows]))
    frame = frame.assign(map_x=np.nan, map_y=np.nan, map_method=method)
    frame.loc[frame.index[rows], "map_x"] = coordinates[:, 0]
    frame.loc[frame.index[rows], "map_y"] = coordinates[:, 1]
    return frame
