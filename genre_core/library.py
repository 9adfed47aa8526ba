"""Find the audio files of a music library: by extension, and by content.

Files without a known extension are kept when their first bytes carry an
audio format's magic number, so `track01` (an MP3 with no suffix) is found
and `cover.jpg` is not, without decoding anything.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from .audio import AUDIO_EXTENSIONS

SKIP_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".gif", ".txt", ".nfo", ".cue", ".log", ".pdf", ".m3u", ".db"})


def sniff_audio(head: bytes) -> bool:
    """True when `head` (a file's first bytes) starts like a supported audio format."""
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return True
    if head[:4] in (b"fLaC", b"OggS") or head[:3] == b"ID3":
        return True
    if head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
        return True
    if head[4:8] == b"ftyp":  # MP4 family: m4a, aac in mp4
        return True
    return len(head) >= 2 and head[0] == 0xFF and (head[1] & 0xE0) == 0xE0  # MPEG audio / ADTS frame sync


def is_audio_file(path: Path) -> bool:
    suffix = path.suffix.lower()
    if suffix in AUDIO_EXTENSIONS:
        return True
    if suffix in SKIP_EXTENSIONS:
        return False
    try:
        with path.open("rb") as handle:
            return sniff_audio(handle.read(16))
    except OSError:
        return False


def find_audio_files(root: str | Path) -> Iterator[Path]:
    """Audio files under `root`, recursively, in a stable (sorted) order.

    Hidden files are left out: macOS `._song.mp3` resource forks, and the
    temporary copies a tag write leaves if it is killed (`filetags.TEMP_SUFFIX`).
    """
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            if name.startswith("."):
                continue
            path = Path(folder) / name
            if path.is_file() and is_audio_file(path):
                yield path
