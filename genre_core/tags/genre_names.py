"""The owner's genre names: a TOML file mapping our labels to the spellings a library uses.

    [names]
    hiphop = "Hip Hop"
    metal = ["Metal", "Heavy Metal"]   # a list writes several values

Genres the file does not name keep their default ID3v1 names (`Hip-Hop`, `Rock`, …); the families
outside the ten (`electronic`, `rnb`, `newage`) are keys too, written `Electronic`, `R&B`, `New Age`
by default. Read with the
standard library's `tomllib`; every way a file can be wrong is a one-line usage error (exit 2).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..config import GENRES, OUTSIDE_GENRES
from ..errors import UsageError
from .filetags import ID3V23_SEPARATOR, tag_name

#: label → the names written for it, in order.
GenreNames = dict[str, tuple[str, ...]]


def load_genre_names(path: str | Path) -> GenreNames:
    """The `[names]` table of a TOML file, checked."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no genre-names file at '{path}'")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"'{path}' is not valid TOML: {exc}") from exc
    if not isinstance(data.get("names"), dict):
        raise UsageError(f"'{path}' has no [names] table (e.g. [names] hiphop = \"Hip Hop\")")
    return check_genre_names(data["names"], str(path))


def check_genre_names(mapping: Mapping[str, Any], source: str) -> GenreNames:
    """Known labels only, non-empty names, none holding the separator ID3v2.3 joins genres with."""
    known = (*GENRES, *OUTSIDE_GENRES)
    unknown = sorted(set(mapping) - set(known))
    if unknown:
        raise UsageError(f"{source}: unknown genre {', '.join(unknown)}; the keys are {', '.join(known)}")
    names: GenreNames = {}
    for label, value in mapping.items():
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
            raise UsageError(f"{source}: {label} must be a name or a list of names")
        values = [v.strip() for v in values]
        if not all(values):
            raise UsageError(f"{source}: {label} has an empty name")
        bad = [v for v in values if ID3V23_SEPARATOR in v]
        if bad:
            raise UsageError(
                f"{source}: '{bad[0]}' contains '{ID3V23_SEPARATOR}', which ID3v2.3 files use to join several genres"
            )
        names[label] = tuple(values)
    return names


def spelled(label: str, names: GenreNames | None = None) -> tuple[str, ...]:
    """The names written for a label: the owner's, else its ID3v1 name."""
    return (names or {}).get(label) or (tag_name(label),)
