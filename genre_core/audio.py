"""Decode audio from a path or bytes into mono float32 at the model's rate.

Two readers share one interface: soundfile (libsndfile: wav, flac, ogg,
opus, mp3) seeks to exactly the samples asked for; PyAV (FFmpeg: m4a/aac
and anything else) is the fallback. Either way a caller reads spans,
never the whole file, so a 2-hour recording costs only the windows used.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np
import soundfile as sf
import soxr

from .errors import AudioDecodeError, AudioTooLongError

AudioSource = str | os.PathLike | bytes | bytearray | BinaryIO

AUDIO_EXTENSIONS = frozenset(
    {".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".mp4", ".aif", ".aiff"}
)


class AudioReader(Protocol):
    """An open recording: its length, and spans of it as mono at `sample_rate`."""

    sample_rate: int
    native_rate: int
    channels: int
    duration_s: float

    def read(self, start_s: float, seconds: float) -> np.ndarray: ...


def describe(source: AudioSource) -> str:
    """A short name for messages: the file name, or 'the upload' for bytes."""
    if isinstance(source, (str, os.PathLike)):
        return Path(source).name
    return getattr(source, "name", None) or "the uploaded data"


def _as_stream(source: AudioSource) -> str | BinaryIO:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return io.BytesIO(bytes(source))
    if isinstance(source, os.PathLike):
        return os.fspath(source)
    return source


def _rewind(stream: str | BinaryIO) -> None:
    if not isinstance(stream, str):
        stream.seek(0)


def _to_mono(block: np.ndarray) -> np.ndarray:
    """Average the channels; make NaN/Inf silent and scale over-full-scale floats back to ±1.

    Float files may hold any value; 1e16 would overflow the spectrogram's power.
    Features are measured below each window's own peak, so the rescale changes nothing else.
    """
    if block.ndim == 2:
        # A mat-vec, not .mean(axis=1): numpy reduces a short strided axis ~40x slower.
        block = np.asarray(block, dtype=np.float32)
        mono = block @ np.full(block.shape[1], 1.0 / block.shape[1], dtype=np.float32)
    else:
        mono = np.asarray(block, dtype=np.float32)
    if not np.isfinite(mono).all():
        mono = np.nan_to_num(mono, nan=0.0, posinf=0.0, neginf=0.0)
    peak = float(np.abs(mono).max()) if mono.size else 0.0
    if peak > 1.0:
        mono = mono / peak
    return mono


def resample(y: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """High-quality (soxr HQ) resampling; a no-op when the rates agree."""
    if from_rate == to_rate or y.size == 0:
        return y.astype(np.float32, copy=False)
    return soxr.resample(y, from_rate, to_rate, quality="HQ").astype(np.float32, copy=False)


class SoundFileReader:
    """libsndfile reader: exact sample seeks, so spans cost only themselves.

    If libsndfile gives up mid-file (a damaged FLAC block, a broken MP3 frame),
    reading switches to FFmpeg, which skips the damage as a media player would.
    """

    def __init__(
        self, handle: sf.SoundFile, sample_rate: int, fallback: Callable[[], PyAVReader | None] | None = None
    ) -> None:
        self._file = handle
        self._fallback = fallback
        self._fallback_reader: PyAVReader | None = None
        self.sample_rate = sample_rate
        self.native_rate = handle.samplerate
        self.channels = handle.channels
        self.duration_s = handle.frames / handle.samplerate if handle.samplerate else 0.0

    def read(self, start_s: float, seconds: float) -> np.ndarray:
        if self._fallback_reader is not None:
            return self._fallback_reader.read(start_s, seconds)
        start = max(0, int(round(start_s * self.native_rate)))
        count = int(round(seconds * self.native_rate))
        try:
            self._file.seek(min(start, self._file.frames))
            block = self._file.read(count, dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError) as exc:
            self._fallback_reader = self._fallback() if self._fallback else None
            if self._fallback_reader is None:
                raise AudioDecodeError(
                    f"The audio data is damaged between {start_s:.1f} s and {start_s + seconds:.1f} s ({exc})."
                ) from exc
            return self._fallback_reader.read(start_s, seconds)
        return resample(_to_mono(block), self.native_rate, self.sample_rate)

    def close(self) -> None:
        self._file.close()
        if self._fallback_reader is not None:
            self._fallback_reader.close()


class PyAVReader:
    """FFmpeg reader for what libsndfile cannot open (m4a/aac, odd mp3s)."""

    def __init__(self, container, sample_rate: int) -> None:  # noqa: ANN001 (av types)
        import av

        self._av = av
        self._container = container
        self._stream = container.streams.audio[0]
        self.sample_rate = sample_rate
        self.native_rate = int(self._stream.rate or self._stream.codec_context.sample_rate or 0)
        self.channels = int(self._stream.channels or 1)
        if not self.native_rate:
            raise AudioDecodeError("The audio stream does not say its sample rate.")
        self.duration_s = self._probe_duration()

    def _probe_duration(self) -> float:
        stream, container = self._stream, self._container
        if stream.duration and stream.time_base:
            return float(stream.duration * stream.time_base)
        if container.duration:
            return container.duration / 1_000_000
        # No header duration (raw ADTS): decode once to count samples.
        total = sum(frame.samples for frame in self._frames_from(0.0))
        return total / self.native_rate

    def _frames_from(self, start_s: float) -> Iterator:
        stream = self._stream
        try:
            if start_s > 0 and stream.time_base:
                self._container.seek(int(start_s / stream.time_base), stream=stream, backward=True)
            else:
                self._container.seek(0)
        except self._av.error.FFmpegError:
            self._container.seek(0)
        try:
            yield from self._container.decode(stream)
        except self._av.error.FFmpegError as exc:
            raise AudioDecodeError(f"The audio data is damaged near {start_s:.1f} s ({exc}).") from exc

    def read(self, start_s: float, seconds: float) -> np.ndarray:
        wanted = int(round(seconds * self.native_rate))
        chunks: list[np.ndarray] = []
        have = 0
        time_base = self._stream.time_base
        to_mono = self._av.AudioResampler(format="flt", layout="mono", rate=self.native_rate)
        for frame in self._frames_from(start_s):
            frame_pts = frame.pts
            converted = [out.to_ndarray().reshape(-1) for out in to_mono.resample(frame)]
            if not converted:
                continue
            block = np.concatenate(converted).astype(np.float32, copy=False)
            if frame_pts is not None and time_base:
                frame_start = float(frame_pts * time_base)
                skip = int(round((start_s - frame_start) * self.native_rate))
                if skip >= block.size:
                    continue
                if skip > 0:
                    block = block[skip:]
            chunks.append(block)
            have += block.size
            if have >= wanted:
                break
        mono = np.concatenate(chunks)[:wanted] if chunks else np.zeros(0, np.float32)
        return resample(_to_mono(mono), self.native_rate, self.sample_rate)

    def close(self) -> None:
        self._container.close()


@contextmanager
def open_audio(source: AudioSource, sample_rate: int = 22050, name: str | None = None) -> Iterator[AudioReader]:
    """Open a recording for span reads; raise AudioDecodeError if nothing can read it.

    `name` is what messages call the recording (an upload's file name), when
    `source` is bytes that carry none.
    """
    stream = _as_stream(source)
    name = name or describe(source)
    if isinstance(stream, str) and not os.path.isfile(stream):
        raise AudioDecodeError(f"'{name}' does not exist or is not a file.")
    if _is_empty(stream):
        raise AudioDecodeError(f"'{name}' is empty (0 bytes).")
    reader: SoundFileReader | PyAVReader | None = None

    def fallback() -> PyAVReader | None:
        _rewind(stream)
        return _open_with_pyav(stream, sample_rate)

    try:
        reader = SoundFileReader(sf.SoundFile(stream), sample_rate, fallback)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError):
        _rewind(stream)
        reader = _open_with_pyav(stream, sample_rate)
    if reader is None:
        raise AudioDecodeError(
            f"Could not read '{name}' as audio. Supported: WAV, FLAC, OGG/Vorbis, Opus, MP3, "
            "M4A/AAC. The file may be damaged or not audio at all."
        )
    try:
        yield reader
    finally:
        reader.close()


def _is_empty(stream: str | BinaryIO) -> bool:
    if isinstance(stream, str):
        return os.path.getsize(stream) == 0
    position = stream.tell()
    stream.seek(0, io.SEEK_END)
    empty = stream.tell() == 0
    stream.seek(position)
    return empty


def _open_with_pyav(stream: str | BinaryIO, sample_rate: int) -> PyAVReader | None:
    import av

    try:
        container = av.open(stream, mode="r")
    except (av.error.FFmpegError, ValueError, OSError):
        return None
    if not container.streams.audio:
        container.close()
        return None
    try:
        return PyAVReader(container, sample_rate)
    except (av.error.FFmpegError, AudioDecodeError, ValueError, ZeroDivisionError):
        container.close()
        return None


def load_audio(source: AudioSource, sample_rate: int = 22050, max_seconds: float | None = None) -> np.ndarray:
    """Decode a whole recording (training, previews); refuse ones over `max_seconds`."""
    with open_audio(source, sample_rate) as reader:
        if max_seconds is not None and reader.duration_s > max_seconds:
            raise AudioTooLongError(
                f"'{describe(source)}' is {reader.duration_s / 60:.0f} min long; the limit for "
                f"decoding it whole is {max_seconds / 60:.0f} min."
            )
        return reader.read(0.0, reader.duration_s + 1.0)
