"""A tag table on disk: read and written whole (Parquet, or CSV by name), its paths absolute, and the two facts
a row is trusted by: the model that made it (`model_id`) and the file's size and mtime (`matches_record`).

Below both the library run (`tagging`) and the writing path (`tags/`), which read and rewrite tables.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import pandas as pd

from .models.registry import resolve_model
from .models.song_embedding import from_cell, to_text


def model_id(path: str | Path | None) -> str:
    """Short content hash of the checkpoint: which model produced a row."""
    digest = hashlib.sha256(resolve_model(path).read_bytes()).hexdigest()
    return digest[:12]


def read_table(path: Path) -> pd.DataFrame:
    """A tag table, every path absolute: a table made before paths were stored absolute has relative ones,
    read against the current folder where that file exists, else against the table's own folder."""
    frame = pd.read_csv(path) if path.suffix.lower() == ".csv" else pd.read_parquet(path)
    if "embedding" in frame.columns and path.suffix.lower() == ".csv":
        frame["embedding"] = [from_cell(c) for c in frame["embedding"]]
    if "path" in frame.columns and len(frame):
        frame["path"] = [absolute_path(str(p), Path(path).parent) for p in frame["path"]]
    return frame


def absolute_path(path: str, table_folder: Path) -> str:
    if os.path.isabs(path):
        return path
    if os.path.exists(path) or not (table_folder / path).exists():
        return os.path.abspath(path)
    return os.path.abspath(table_folder / path)


def write_table(frame: pd.DataFrame, path: Path) -> None:
    """Parquet, or CSV for a `.csv` name; written beside and renamed, so a reader never sees half a table."""
    tmp = path.with_name(f".{path.name}.tmp")
    if path.suffix.lower() == ".csv":
        if "embedding" in frame.columns:
            frame = frame.assign(embedding=[to_text(v) for v in frame["embedding"]])
        frame.to_csv(tmp, index=False)
    else:
        frame.to_parquet(tmp, index=False)
    os.replace(tmp, path)


def matches_record(stat: os.stat_result, size: Any, mtime: Any) -> bool:
    """The file still has the size and modification time a table row recorded for it."""
    return (stat.st_size, stat.st_mtime) == (int(size), float(mtime))
