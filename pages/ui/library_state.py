"""The Library page's state: the opened table (cached per file and modification), uploads, searches."""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from genre_core.config import display_genre
from genre_core.errors import UsageError
from genre_core.export import cell_text
from genre_core.library_map import library_map, place
from genre_core.models.registry import SHIPPED_MODELS
from genre_core.similarity import LibraryIndex, m3u8_text, playlist, similar_rows

from .state import classifier

PLAYLIST_LENGTH = 20


@dataclass
class Library:
    """A table's songs: the search index, their places on the map and how the map was made."""

    index: LibraryIndex
    coordinates: np.ndarray  # (songs, 2)
    method: str  # "t-SNE", or why PCA stands in
    labels: list[str]  # "artist - title" (or the file name) of each song, for the picker

    def place(self, vector: np.ndarray) -> np.ndarray:
        """A song's place: its own where it is on the map, else the mean place of its nearest songs."""
        vector = np.asarray(vector)
        own = np.flatnonzero(np.all(np.abs(self.index.vectors - vector) <= 1e-6, axis=1))
        return self.coordinates[own[0]] if len(own) else place(self.coordinates, self.index.vectors, vector)


def stamp(table: Path) -> tuple[float, int]:
    """(mtime, size) of the table: a rewritten table (a new `tag` run) is opened again."""
    try:
        stat = table.stat()
    except OSError as exc:
        raise UsageError(f"no table at '{table}'") from exc
    return stat.st_mtime, stat.st_size


@st.cache_resource(max_entries=4, show_spinner="Opening the library…")
def open_library(table: str, mtime: float, size: int) -> Library:
    index = LibraryIndex.open(table)
    rows = index.rows
    if {"map_x", "map_y"} <= set(rows.columns) and rows[["map_x", "map_y"]].notna().all().all():
        coordinates = rows[["map_x", "map_y"]].to_numpy(dtype=float)  # the map `tag` stored
        method = str(rows["map_method"].iloc[0]) if "map_method" in rows else "t-SNE"
    else:  # a table made before maps were stored: drawn here, once per table file
        coordinates, method = library_map(index.vectors)
    labels = [song_label({"artist": a, "title": t, "path": p}) for a, t, p in zip(*columns(index), strict=True)]
    return Library(index, coordinates, method, labels)


def columns(index: LibraryIndex) -> tuple[list, list, list]:
    rows = index.rows
    blank = [None] * len(rows)
    return (
        list(rows["artist"]) if "artist" in rows else blank,
        list(rows["title"]) if "title" in rows else blank,
        list(rows["path"]),
    )


def song_label(row: dict[str, Any]) -> str:
    name = " - ".join(p for p in (cell_text(row.get("artist")), cell_text(row.get("title"))) if p)
    return name or Path(str(row["path"])).name


def saved_upload(upload: Any) -> Path:
    """An uploaded table, saved under a name of its content (its suffix kept: Parquet or CSV)."""
    data = upload.getvalue()
    folder = Path(tempfile.gettempdir()) / "genre_core_tables"
    folder.mkdir(exist_ok=True)
    path = folder / f"{hashlib.sha256(data).hexdigest()[:16]}{Path(upload.name).suffix.lower()}"
    if not path.exists():
        path.write_bytes(data)
    return path


def model_for(index: LibraryIndex) -> str:
    """The shipped model that made the table (by its id), or a clear refusal."""
    from genre_core.table_io import model_id

    for name, path in SHIPPED_MODELS.items():
        if path.is_file() and model_id(path) == index.model_id:
            return name
    raise UsageError(
        f"this table was made by model {index.model_id}, which this app does not ship: an uploaded song cannot be "
        "compared with it (pick a song of the table instead)"
    )


@st.cache_data(max_entries=16, show_spinner="Listening to the song…")
def _embed(content_hash: str, model: str, _data: bytes, name: str) -> np.ndarray:
    prediction = classifier(model).predict(_data, name=name)
    if prediction.embedding is None:
        raise UsageError(f"the {model} model has no song embedding")
    return prediction.embedding


def embed_upload(library: Library, data: bytes, name: str) -> np.ndarray:
    return _embed(hashlib.sha256(data).hexdigest(), model_for(library.index), data, name)


def neighbours(library: Library, query: np.ndarray, k: int, exclude: int | None) -> tuple[list[dict], np.ndarray]:
    """The nearest songs as listed, and their rows (to mark them on the map), from one search."""
    rows, sims = similar_rows(library.index, query, k, exclude)
    return library.index.listing(rows, sims), rows


def results_frame(found: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "similarity": row["similarity"],
                "song": song_label(row),
                "genre": display_genre(row["genre"]) if row["genre"] else "—",
                "mood": row["mood"] or "—",
                "file": Path(row["path"]).name,
            }
            for row in found
        ],
        columns=["similarity", "song", "genre", "mood", "file"],
    )


def playlist_length(library: Library) -> int:
    """Songs in a playlist from the Library page: PLAYLIST_LENGTH, or the whole library where it is smaller."""
    return min(PLAYLIST_LENGTH, len(library.index))


def playlist_bytes(library: Library, seed: int) -> bytes:
    order = playlist(library.index, seed, playlist_length(library))
    return m3u8_text(library.index, order).encode("utf-8")
