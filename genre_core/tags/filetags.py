"""Read and write the genre (or mood) tag of a music file, and nothing else, through mutagen.

Every container keeps its genre where players look for it: ID3 `TCON` (MP3,
and WAV/AIFF with an ID3 chunk), the `GENRE` comment of Vorbis, Opus and FLAC,
and MP4's `©gen`. The mood goes where Picard, Kodi and Navidrome read it: ID3v2.4
`TMOO`, ID3v2.3 `TXXX:MOOD`, the `MOOD` comment, MP4 `----:com.apple.iTunes:MOOD`.
A genre's state is a small JSON-able `GenreState`, so a journal can hold it
and put it back exactly.

Several genres are written as the format's own multiple values: ID3v2.4 null-separated
`TCON` values, repeated Vorbis/FLAC/Opus `GENRE` comments, an MP4 `©gen` list. ID3v2.3
has no multiple values; mutagen joins them with "/" there (as Picard does), and a
v2.3 file's "/"-joined genre reads back as its parts.

A write normally never edits the file in place: the tags are written into a copy in
the same folder, checked, and renamed over the original. A crash or Ctrl-C at any
moment leaves either the old file or the new one, never half of each. A file with
several hard links is the exception: a rename would give its path a new inode and
silently split it from its other links, so mutagen saves it in place (the caller
journals it first) and every link sees the new tags.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mutagen
from mutagen.id3 import ID3, TCON, TMOO, TXXX
from mutagen.mp4 import MP4FreeForm, MP4Tags

from ..errors import GenreCoreError
from ..interrupts import deferred

#: How a label is written into a file: the ID3v1 genre names players already know.
TAG_NAMES = {"hiphop": "Hip-Hop", "electronic": "Electronic", "rnb": "R&B", "newage": "New Age"}
#: How ID3v2.3, which has no multiple values, holds several genres (mutagen's own `v23_sep`).
ID3V23_SEPARATOR = "/"
#: Temporary copies start with a dot and end so: library scans skip them (see `library.py`).
TEMP_SUFFIX = ".genre-core-tmp"
VORBIS_KEY = "GENRE"
MP4_GENRE = "©gen"
#: The fields this module writes: each state says which one it holds.
FIELDS = ("genre", "mood")
VORBIS_KEYS = {"genre": VORBIS_KEY, "mood": "MOOD"}
MP4_KEYS = {"genre": MP4_GENRE, "mood": "----:com.apple.iTunes:MOOD"}
ID3_MOOD_V23 = "TXXX:MOOD"


class TagWriteError(GenreCoreError):
    """This file's genre cannot be read or written here."""


def tag_name(label: str) -> str:
    """The genre as written into files: `hiphop` → `Hip-Hop`, `rock` → `Rock`."""
    return TAG_NAMES.get(label, label.title())


@dataclass(frozen=True)
class GenreState:
    """A file's genre fields as stored: enough to show them and to restore them exactly.

    `fields` maps the container's own keys to their values (None: absent);
    `extra` keeps what equality ignores but a restore needs (ID3 text
    encoding, the spelling of a Vorbis key); `had_tags` says whether the file
    had a tag block at all, so undoing a first tag can remove the empty block.
    """

    kind: str
    fields: dict[str, list[str] | None]
    extra: dict[str, Any] = field(default_factory=dict)
    had_tags: bool = True
    shown: tuple[str, ...] = ()
    #: Which tag this state holds: "genre" or "mood" (`FIELDS`).
    field: str = "genre"

    def same_values(self, other: GenreState) -> bool:
        return self.field == other.field and self.kind == other.kind and self.fields == other.fields

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "fields": self.fields,
            "extra": self.extra,
            "had_tags": self.had_tags,
            "shown": list(self.shown),
            "field": self.field,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> GenreState:
        return cls(
            data["kind"],
            data["fields"],
            data.get("extra", {}),
            data.get("had_tags", True),
            tuple(data["shown"]),
            data.get("field", "genre"),  # journals written before moods hold genres
        )


# ---- one container family each ----------------------------------------------------------------


def _id3_mood_key(version: str) -> str:
    return ID3_MOOD_V23 if version == "id3v2.3" else "TMOO"


def _id3_read(tags: ID3, which: str = "genre") -> GenreState:
    version = f"id3v2.{tags.version[1]}" if tags.version[1] in (3, 4) else "id3v2.4"
    if which == "mood":
        key = _id3_mood_key(version)
        frame = tags.get(key)
        if frame is None:
            return GenreState(version, {key: None}, field="mood")
        values = [str(t) for t in frame.text]
        return GenreState(version, {key: values}, {"encoding": int(frame.encoding)}, shown=tuple(values), field="mood")
    frame = tags.get("TCON")
    if frame is None:
        return GenreState(version, {"TCON": None})
    shown = tuple(frame.genres)
    if version == "id3v2.3":  # "Blues/Rock" is how a v2.3 tag holds two genres
        shown = tuple(part.strip() for value in shown for part in value.split(ID3V23_SEPARATOR) if part.strip())
    return GenreState(version, {"TCON": [str(t) for t in frame.text]}, {"encoding": int(frame.encoding)}, shown=shown)


def _id3_apply(tags: ID3, state: GenreState) -> None:
    if state.field == "mood":
        key = _id3_mood_key(state.kind)
        text = state.fields[key]
        tags.delall(key)
        if text is not None:
            encoding = state.extra.get("encoding", 3)
            frame = TXXX(encoding=encoding, desc="MOOD", text=text) if key == ID3_MOOD_V23 else None
            tags.add(frame or TMOO(encoding=encoding, text=text))
        return
    text = state.fields["TCON"]
    tags.delall("TCON")
    if text is not None:
        tags.add(TCON(encoding=state.extra.get("encoding", 3), text=text))


def _vorbis_read(tags: Any, which: str = "genre") -> GenreState:
    keys = [k for k, _ in tags if k.lower() == which]
    values = [v for k, v in tags if k.lower() == which]
    if not keys:
        return GenreState("vorbis", {which: None}, field=which)
    return GenreState("vorbis", {which: values}, {"key": keys[0]}, shown=tuple(values), field=which)


def _vorbis_apply(tags: Any, state: GenreState) -> None:
    """Put the values where the first comment of the field was (or at the end), keeping the key's spelling."""
    which = state.field
    values = state.fields[which] or []
    key = state.extra.get("key", VORBIS_KEYS[which])
    pairs = list(tags)
    first = next((i for i, (k, _) in enumerate(pairs) if k.lower() == which), len(pairs))
    kept = [p for p in pairs if p[0].lower() != which]
    # `first` counted genre comments only at or after it, so it is also the insertion point in `kept`.
    new = kept[:first] + [(key, v) for v in values] + kept[first:]
    tags.clear()
    tags.extend(new)


def _mp4_read(tags: MP4Tags, which: str = "genre") -> GenreState:
    # mutagen reads the old numeric `gnre` atom as `©gen` text, and writes it back so.
    key = MP4_KEYS[which]
    text = tags.get(key)
    if text is None:
        values = None
    elif which == "mood":  # a freeform iTunes atom: UTF-8 bytes
        values = [bytes(t).decode("utf-8", "replace") for t in text]
    else:
        values = [str(t) for t in text]
    return GenreState("mp4", {key: values}, shown=tuple(values or ()), field=which)


def _mp4_apply(tags: MP4Tags, state: GenreState) -> None:
    key = MP4_KEYS[state.field]
    values = state.fields[key]
    if values is None:
        tags.pop(key, None)
    elif state.field == "mood":
        tags[key] = [MP4FreeForm(v.encode("utf-8")) for v in values]
    else:
        tags[key] = values


def _family(tags: Any) -> str:
    if isinstance(tags, ID3):
        return "id3"
    if isinstance(tags, MP4Tags):
        return "mp4"
    if hasattr(tags, "vendor"):  # VComment: Ogg Vorbis, Opus, FLAC
        return "vorbis"
    raise TagWriteError(f"{type(tags).__name__} tags are not supported for genres")


_READ = {"id3": _id3_read, "vorbis": _vorbis_read, "mp4": _mp4_read}
_APPLY = {"id3": _id3_apply, "vorbis": _vorbis_apply, "mp4": _mp4_apply}


def _open(path: Path) -> mutagen.FileType:
    try:
        audio = mutagen.File(path)
    except mutagen.MutagenError as exc:
        raise TagWriteError(f"mutagen cannot read its tags: {exc}") from exc
    except OSError as exc:
        raise TagWriteError(f"cannot read the file: {exc.strerror or exc}") from exc
    if audio is None:
        raise TagWriteError("not a format whose tags mutagen can write")
    return audio


def _state_of(audio: mutagen.FileType, which: str = "genre") -> GenreState:
    """The field's state; a file without a tag block reads as its format's empty state."""
    if which not in FIELDS:
        raise ValueError(f"unknown tag field '{which}' (known: {', '.join(FIELDS)})")
    if audio.tags is None:
        try:
            audio.add_tags()
        except mutagen.MutagenError as exc:
            raise TagWriteError(f"{type(audio).__name__} files have no tags mutagen can write ({exc})") from exc
        state = _READ[_family(audio.tags)](audio.tags, which)
        audio.tags = None
        return GenreState(state.kind, state.fields, state.extra, had_tags=False, field=which)
    return _READ[_family(audio.tags)](audio.tags, which)


def read_genre(path: str | Path) -> GenreState:
    """The file's genre fields as they are now."""
    return _state_of(_open(Path(path)))


def read_mood(path: str | Path) -> GenreState:
    """The file's mood fields as they are now (`TMOO`, `TXXX:MOOD`, `MOOD`, the iTunes `MOOD` atom)."""
    return _state_of(_open(Path(path)), "mood")


def read_field(path: str | Path, which: str) -> GenreState:
    return _state_of(_open(Path(path)), which)


def holds(path: str | Path, state: GenreState | None) -> bool:
    """Whether the file's field now equals `state` (False where it cannot be read): after an interrupt, a write
    or a restore in flight happened whole (its rename landed) or not at all, and this says which."""
    if state is None:
        return False
    try:
        return read_field(path, state.field).same_values(state)
    except TagWriteError:
        return False


def new_state(current: GenreState, label: str) -> GenreState:
    """`current` with the genre replaced by `label` (in its tag spelling)."""
    return with_genres(current, [tag_name(label)])


def with_genres(current: GenreState, names: list[str] | tuple[str, ...]) -> GenreState:
    """`current` holding exactly `names`, in order, as the format's multiple values."""
    names = tuple(names)
    if current.field == "mood":
        return with_mood(current, names)
    if current.kind.startswith("id3"):
        text = [ID3V23_SEPARATOR.join(names)] if current.kind == "id3v2.3" else list(names)
        return GenreState(current.kind, {"TCON": text}, {"encoding": 3}, current.had_tags, names)
    if current.kind == "mp4":
        return GenreState("mp4", {MP4_GENRE: list(names)}, {}, current.had_tags, names)
    key = current.extra.get("key", VORBIS_KEY)
    return GenreState("vorbis", {"genre": list(names)}, {"key": key}, current.had_tags, names)


def with_mood(current: GenreState, values: tuple[str, ...]) -> GenreState:
    """`current` (a mood state) holding exactly `values` in the format's mood field."""
    key = next(iter(current.fields))
    extra = {"key": current.extra.get("key", VORBIS_KEYS["mood"])} if current.kind == "vorbis" else {}
    if current.kind.startswith("id3"):
        extra = {"encoding": 3}
    return GenreState(current.kind, {key: list(values)}, extra, current.had_tags, values, "mood")


def is_read_only(path: str | Path) -> bool:
    """No write permission for us, or none for anyone: even root leaves a file marked read-only alone."""
    return not os.access(path, os.W_OK) or not os.stat(path).st_mode & 0o222


def _is_empty(tags: Any) -> bool:
    if isinstance(tags, ID3 | MP4Tags):
        return len(tags) == 0
    return len(list(tags)) == 0


def _save(audio: mutagen.FileType, kind: str) -> None:
    if kind.startswith("id3"):  # keep the file's ID3 version: a v2.3 tag stays v2.3
        audio.save(v2_version=3 if kind == "id3v2.3" else 4)
    else:
        audio.save()


def _load_for_write(path: Path, kind: str) -> mutagen.FileType:
    if kind == "id3v2.3":  # load as v2.3 so nothing is translated to v2.4 frames on the way
        audio = mutagen.File(path)
        audio.tags = ID3(path, v2_version=3)
        return audio
    return mutagen.File(path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def is_hard_linked(path: str | Path) -> bool:
    """More than one directory entry names this file: it must be written in place to stay one file."""
    return os.stat(os.path.realpath(path)).st_nlink > 1


def _apply_and_save(audio: mutagen.FileType, state: GenreState) -> None:
    if audio.tags is None:
        audio.add_tags()
    family = _family(audio.tags)
    if family != ("id3" if state.kind.startswith("id3") else state.kind):
        raise TagWriteError(f"the file's tags are {family}, not {state.kind}: it changed since it was read")
    _APPLY[family](audio.tags, state)
    if not state.had_tags and _is_empty(audio.tags):
        audio.delete()  # undoing the first tag of an untagged file: no empty tag block left behind
    else:
        _save(audio, state.kind)


def write_genre(path: str | Path, state: GenreState) -> str:
    """Make the file's genre fields equal `state`; every other byte of audio is untouched.

    Returns how: "replaced" (a checked copy renamed over the file: atomic) or "in place"
    (a file with several hard links, saved by mutagen so that every link keeps seeing it).
    Symlinks are followed (the link stays a link). The copy keeps the file's permission
    bits and, where allowed, its owner; it is read back before it replaces the old one.
    Ctrl-C and SIGTERM wait for the write to finish (`interrupts.deferred`).
    """
    with deferred():
        return _write(Path(os.path.realpath(path)), state)


def _write(real: Path, state: GenreState) -> str:
    if is_read_only(real):
        raise TagWriteError("the file is read-only")
    if is_hard_linked(real):
        _write_in_place(real, state)
        return "in place"
    if not os.access(real.parent, os.W_OK):
        raise TagWriteError("its folder is read-only (the new file is written beside it, then renamed)")
    try:
        fd, name = tempfile.mkstemp(prefix=f".{real.name}.", suffix=TEMP_SUFFIX, dir=real.parent)
    except OSError as exc:
        raise TagWriteError(f"cannot create a file beside it: {exc.strerror or exc}") from exc
    os.close(fd)
    temp = Path(name)
    try:
        shutil.copy2(real, temp)  # data, permission bits, times, extended attributes
        owner = real.stat()
        if (os.stat(temp).st_uid, os.stat(temp).st_gid) != (owner.st_uid, owner.st_gid):
            with contextlib.suppress(PermissionError):  # root tagging a user's files leaves them theirs
                os.chown(temp, owner.st_uid, owner.st_gid)
        _apply_and_save(_load_for_write(temp, state.kind), state)
        written = read_field(temp, state.field)
        if written.fields != state.fields:
            raise TagWriteError(f"the written {state.field} reads back as {written.fields}, not {state.fields}")
        _fsync(temp)
        os.replace(temp, real)
        _fsync(real.parent)
    except mutagen.MutagenError as exc:
        raise TagWriteError(f"mutagen could not write its tags: {exc}") from exc
    except OSError as exc:  # a full disk, a file that vanished mid-copy: the original is untouched
        raise TagWriteError(f"could not write the new file: {exc.strerror or exc}") from exc
    finally:
        temp.unlink(missing_ok=True)
    return "replaced"


def _write_in_place(real: Path, state: GenreState) -> None:
    """mutagen's own save of a hard-linked file: same inode, so every link sees the new tags."""
    try:
        _apply_and_save(_load_for_write(real, state.kind), state)
        _fsync(real)
    except mutagen.MutagenError as exc:
        raise TagWriteError(f"mutagen could not write its tags in place: {exc}") from exc
    except OSError as exc:
        raise TagWriteError(f"could not write the file in place: {exc.strerror or exc}") from exc
    written = read_field(real, state.field)
    if written.fields != state.fields:
        raise TagWriteError(f"the {state.field} written in place reads back as {written.fields}, not {state.fields}")
