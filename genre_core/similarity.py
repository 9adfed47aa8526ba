"""Similar songs and playlists from a `tag` table's embeddings: exact cosine search in numpy.

Brute force is exact and fast enough here: one query is a (songs × width) matrix-vector product and a
partial sort; `bench --similar` prints the time and memory at 10,000 to 1,000,000 songs. The table's rows
must come from one model (its `model_id`); a query file is classified on the fly by that same model.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import UsageError
from .export import cell_number, cell_text
from .models.song_embedding import from_cell


def no_embeddings_hint(table: str | Path) -> str:
    return (
        f"'{table}' has no song embeddings (a table made before they were stored): rerun "
        f"`python -m genre_core tag LIBRARY --out {table}`, which classifies again only the files it must"
    )


@dataclass
class LibraryIndex:
    """The songs of a table that have an embedding, as a unit-row matrix, with what a listing shows of each."""

    table: Path
    rows: pd.DataFrame  # path, genre, mood, artist, title, duration_s, ... of each embedded song
    vectors: np.ndarray  # (songs, width) float32, unit rows
    model_id: str

    @classmethod
    def open(cls, table: str | Path) -> LibraryIndex:
        from .table_io import read_table

        table = Path(table)
        if not table.is_file():
            raise UsageError(f"'{table}' does not exist")
        frame = read_table(table)
        if "embedding" not in frame.columns:
            raise UsageError(no_embeddings_hint(table))
        vectors = [from_cell(c) for c in frame["embedding"]]
        keep = np.asarray([v is not None for v in vectors])
        if not keep.any():
            raise UsageError(no_embeddings_hint(table))
        models = sorted({str(m) for m in frame.loc[keep, "model_id"].dropna()})
        if len(models) != 1:
            raise UsageError(
                f"'{table}' mixes songs embedded by {len(models)} models ({', '.join(models)}): their embeddings "
                "cannot be compared; tag the library again with one model"
            )
        matrix = np.stack([v for v in vectors if v is not None]).astype(np.float32)
        matrix /= np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-9)
        return cls(table, frame.loc[keep].reset_index(drop=True), matrix, models[0])

    def __len__(self) -> int:
        return len(self.rows)

    @cached_property
    def _rows_by_path(self) -> dict[str, int]:
        """Each row's stored (absolute) path to its row: built once per index."""
        found: dict[str, int] = {}
        for index, candidate in enumerate(self.rows["path"]):
            found.setdefault(candidate, index)
        return found

    @cached_property
    def _rows_by_real_path(self) -> dict[str, int]:
        """Each row's real path (a table path through a symlink): built once, and only when the stored ones miss."""
        found: dict[str, int] = {}
        for index, candidate in enumerate(self.rows["path"]):
            found.setdefault(os.path.realpath(candidate), index)
        return found

    def position(self, path: str | Path) -> int | None:
        """The row of a file of the table (by its absolute or real path), or None."""
        wanted = (os.path.abspath(path), os.path.realpath(path))
        for rows in (self._rows_by_path, self._rows_by_real_path):
            for key in wanted:
                if key in rows:
                    return rows[key]
        return None

    @cached_property
    def artists(self) -> np.ndarray:
        """Each song's artist, case-folded ("" where none): read once per index."""
        column = self.rows.get("artist", pd.Series([None] * len(self)))
        return np.asarray([(cell_text(a) or "").casefold() for a in column])

    def allowed(self, genre: str | None = None, mood: str | None = None) -> np.ndarray:
        """Rows passing the filters: the table's genre (e.g. jazz) and mood label (e.g. calm / relaxed)."""
        mask = np.ones(len(self), dtype=bool)
        if genre:
            mask &= self.rows["genre"].astype(str).str.casefold().to_numpy() == genre.casefold()
        if mood:
            moods = self.rows.get("mood", pd.Series([None] * len(self))).astype(str).str.casefold()
            mask &= moods.str.contains(mood.casefold(), regex=False).to_numpy()
        return mask

    def nearest(self, query: np.ndarray, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The `k` most similar rows (indices, cosine similarities), best first, among `mask`."""
        sims = self.vectors @ np.asarray(query, dtype=np.float32)
        if mask is not None:
            sims = np.where(mask, sims, -np.inf)
        k = min(k, int(np.isfinite(sims).sum()))
        if k <= 0:
            return np.zeros(0, dtype=int), np.zeros(0, dtype=np.float32)
        top = np.argpartition(-sims, k - 1)[:k]
        order = top[np.argsort(-sims[top], kind="stable")]
        return order, sims[order]

    def listing(self, indices: np.ndarray, sims: np.ndarray) -> list[dict[str, Any]]:
        rows = self.rows.iloc[indices]
        return [
            {
                "path": str(row["path"]),
                "similarity": round(float(sim), 4),
                "genre": cell_text(row.get("genre")),
                "mood": cell_text(row.get("mood")),
                "artist": cell_text(row.get("artist")),
                "title": cell_text(row.get("title")),
            }
            for (_, row), sim in zip(rows.iterrows(), sims, strict=True)
        ]


def similar_rows(
    index: LibraryIndex,
    query: np.ndarray,
    k: int = 10,
    exclude: int | None = None,
    genre: str | None = None,
    mood: str | None = None,
    artist: str | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The rows of the `k` nearest songs to `query` and their similarities, best first, the query's own row
    excluded; `artist`: leave that artist out."""
    mask = index.allowed(genre, mood)
    if exclude is not None:
        mask[exclude] = False
    if artist:
        mask &= index.artists != artist.casefold()
    return index.nearest(query, k, mask)


def similar(index: LibraryIndex, query: np.ndarray, k: int = 10, **filters: Any) -> list[dict[str, Any]]:
    """`similar_rows` as listings: path, similarity, genre, mood, artist, title."""
    return index.listing(*similar_rows(index, query, k, **filters))


def playlist(
    index: LibraryIndex, seed: int, length: int, genre: str | None = None, mood: str | None = None
) -> list[int]:
    """The seed, then each next song the closest unplayed one to both the song before and the seed.

    Half and half: close to the one before (no jumps) and to the seed (no drifting away). The same
    artist twice in a row is avoided wherever another candidate is left.
    """
    mask = index.allowed(genre, mood)
    mask[seed] = True
    available = int(mask.sum())
    if length > available:
        raise UsageError(f"--length {length} is longer than the {available} songs of the library that pass the filters")
    artists = index.artists
    order, used = [seed], np.zeros(len(index), dtype=bool)
    used[seed] = True
    to_seed = index.vectors @ index.vectors[seed]
    while len(order) < length:
        previous = order[-1]
        score = 0.5 * (index.vectors @ index.vectors[previous]) + 0.5 * to_seed
        score = np.where(mask & ~used, score, -np.inf)
        other_artist = score.copy()
        if artists[previous]:
            other_artist[artists == artists[previous]] = -np.inf
        pick = int(np.argmax(other_artist if np.isfinite(other_artist).any() else score))
        order.append(pick)
        used[pick] = True
    return order


def m3u8_text(index: LibraryIndex, order: list[int], folder: Path | None = None) -> str:
    """An extended M3U: `#EXTINF:seconds,artist - title`, then the path: relative to `folder` where possible
    (a library that moves with its playlists keeps working), absolute without one (a download)."""
    lines = ["#EXTM3U"]
    for position in order:
        row = index.rows.iloc[position]
        seconds = cell_number(row.get("duration_s"))
        artist, title = cell_text(row.get("artist")), cell_text(row.get("title"))
        name = " - ".join(p for p in (artist, title) if p) or Path(str(row["path"])).stem
        lines.append(f"#EXTINF:{math.ceil(seconds) if seconds is not None else -1},{name}")
        lines.append(playlist_path(str(row["path"]), folder) if folder is not None else str(row["path"]))
    return "\n".join(lines) + "\n"


def write_m3u8(index: LibraryIndex, order: list[int], out: Path) -> Path:
    """The playlist in UTF-8 (M3U8), written beside and renamed: a player never reads half of it."""
    out = Path(out)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(m3u8_text(index, order, out.parent), encoding="utf-8")
    os.replace(tmp, out)
    return out


def playlist_path(path: str, folder: Path) -> str:
    """Relative to the playlist's folder where possible (a library that moves with its playlists keeps working)."""
    try:
        return os.path.relpath(path, os.path.abspath(folder))
    except ValueError:  # another drive on Windows
        return path
