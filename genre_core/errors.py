"""Typed errors whose messages are written for the person who chose the file."""

from __future__ import annotations


class GenreCoreError(Exception):
    """Base of every error genre_core raises on purpose."""


class AudioDecodeError(GenreCoreError):
    """The bytes are not audio any decoder here can read."""


class AudioTooShortError(GenreCoreError):
    """Too little sound to say anything about its genre."""


class SilentAudioError(GenreCoreError):
    """The recording is digital silence or close to it."""


class AudioTooLongError(GenreCoreError):
    """Longer than the configured decode limit."""


class CheckpointError(GenreCoreError):
    """A model file is missing, damaged or made for different code."""


class UsageError(GenreCoreError):
    """Bad command-line input: the CLI exits with code 2."""
