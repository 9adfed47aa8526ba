"""One genre per album: group a tag table's files into albums and give every track the album's consensus.

An album is the set of files sharing the `album` tag and the `albumartist` tag (or `artist` where a
file has no `albumartist`), read through mutagen's easy interface. `tag` records these as table
columns; a table made before reads them from the files. The album's probabilities are the mean of its
tracks' calibrated probabilities (and its `other_probability` the mean of theirs), so a confident
track counts as much as it is sure. A file without album tags, and an album of one track, fall back to
its own prediction, and the plan says so.

Measured on the data we have (4Q artists with two or more recordings, as a stand-in for albums; the
mean of their recordings' probabilities against each recording's own): the consensus was right for
10 of 20 valid and 13 of 24 test recordings, track by track 12 and 15. It is what a library owner asks
for (one genre per album), not a gain in accuracy here; `--per track` stays the default.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mutagen

from ..export import cell_number, cell_text

#: The table columns `tag` records for albums, read through mutagen's easy interface.
ALBUM_COLUMNS = ("album", "albumartist", "artist", "tracknumber")
PER = ("track", "album")


def read_album_tags(path: str | Path) -> dict[str, str | None]:
    """album, albumartist, artist, tracknumber of a file (None where absent or unreadable)."""
    try:
        audio = mutagen.File(path, easy=True)
    except (mutagen.MutagenError, OSError):
        audio = None
    tags = getattr(audio, "tags", None) if audio is not None else None
    found: dict[str, str | None] = {}
    for key in ALBUM_COLUMNS:
        try:
            values = tags.get(key) if tags is not None else None
        except (KeyError, ValueError):
            values = None
        found[key] = str(values[0]).strip() or None if values else None
    return found


def read_title(path: str | Path) -> str | None:
    """The file's title tag (mutagen's easy interface), or None."""
    try:
        audio = mutagen.File(path, easy=True)
        values = audio.tags.get("title") if audio is not None and audio.tags is not None else None
    except (mutagen.MutagenError, OSError, KeyError, ValueError):
        values = None
    return str(values[0]).strip() or None if values else None


def album_key(row: dict[str, Any]) -> tuple[str, str] | None:
    """(album, album artist) of a row, or None when the file has no album tag."""
    album = cell_text(row.get("album"))
    artist = cell_text(row.get("albumartist")) or cell_text(row.get("artist"))
    return (album, artist or "") if album else None


@dataclass
class Album:
    """One album of the table and the consensus its tracks get."""

    album: str
    artist: str
    paths: list[str] = field(default_factory=list)
    genre: str | None = None
    probability: float | None = None
    #: Tracks whose own top genre differs from the album's: path → their own genre.
    differing: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "album": self.album,
            "artist": self.artist,
            "tracks": len(self.paths),
            "genre": self.genre,
            "probability": self.probability,
            "differing": self.differing,
            "paths": self.paths,
        }


def with_album_tags(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of a table made before album columns get them from the files."""
    if all(key in row for row in rows for key in ALBUM_COLUMNS):
        return rows
    return [{**row, **read_album_tags(str(row["path"]))} if "album" not in row else row for row in rows]


def consensus(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Album], dict[str, str]]:
    """(rows with each album track's genre replaced by its album's, the albums, path → why it fell back)."""
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    fallback: dict[str, str] = {}
    for i, row in enumerate(rows):
        if cell_text(row.get("error")) or cell_text(row.get("genre")) is None:
            continue
        key = album_key(row)
        if key is None:
            fallback[str(row["path"])] = "no album tag: decided on its own"
            continue
        groups[key].append(i)
    out = [dict(row) for row in rows]
    albums = []
    for (name, artist), members in groups.items():
        if len(members) < 2:
            fallback[str(rows[members[0]]["path"])] = "the only classified track of its album: decided on its own"
            continue
        album = Album(name, artist, [str(rows[i]["path"]) for i in members])
        genres = [c[2:] for c in rows[members[0]] if c.startswith("p_")]
        mean = {g: float(sum(float(rows[i][f"p_{g}"]) for i in members) / len(members)) for g in genres}
        album.genre = max(mean, key=mean.get)
        album.probability = mean[album.genre]
        others = [p for i in members if (p := cell_number(rows[i].get("other_probability"))) is not None]
        for i in members:
            own = str(rows[i]["genre"])
            if own != album.genre:
                album.differing[str(rows[i]["path"])] = own
            out[i].update({"genre": album.genre, "probability": album.probability, **{f"p_{g}": mean[g] for g in mean}})
            if others:  # the album is other music when its mean p_other says so
                out[i].update({"other_probability": sum(others) / len(others), "is_other": None})
        albums.append(album)
    return out, albums, fallback


def album_lines(
    albums: list[Album], fallback: dict[str, str], actions: dict[str, str], held: dict[str, str] | None = None
) -> list[str]:
    """The dry run by album: the album's line, its tracks whose own genre differs, then its tracks.

    `held`: path → how a track is held back as other music ("none of the ten", "may be none"); an album whose
    tracks are all held back says so instead of proposing a genre it will not write.
    """
    lines, held = [], held or {}
    for album in albums:
        p = f"{album.probability:.2f}" if album.probability is not None else "-"
        head = f"album '{album.album}' by {album.artist or '?'}: {len(album.paths)} tracks"
        kinds = sorted({held[path] for path in album.paths if path in held})
        if all(path in held for path in album.paths):
            lines.append(f"{head} held back as other music ({' / '.join(kinds)}); each track says what would write it")
        else:
            lines.append(f"{head} → {album.genre} ({p})")
        for path, own in album.differing.items():
            lines.append(f"    own genre differs: {path}: {own}")
        lines += [f"    {actions.get(path, '-'):<8} {path}" for path in album.paths]
    if fallback:
        lines.append(f"{len(fallback)} file(s) decided on their own:")
        lines += [f"    {path}: {why}" for path, why in fallback.items()]
    return lines
