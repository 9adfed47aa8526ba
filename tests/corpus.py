"""A corpus of bad and odd inputs, generated on the fly, each with its defined outcome.

`OK` means a valid prediction; an exception type (with a phrase of its
message) means that typed error and nothing else. The same table drives
the library test and the app test.
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import soundfile as sf

from conftest import CLIPS, encode
from genre_core.errors import AudioDecodeError, AudioTooShortError, SilentAudioError

OK = "prediction"
SR = 22050


def music(seconds: float = 6.0, sr: int = SR) -> np.ndarray:
    """Real music (a GTZAN test clip), resampled if needed, looped to length."""
    y, native = sf.read(CLIPS["rock"], dtype="float32")
    if sr != native:
        from genre_core.audio import resample

        y = resample(y, native, sr)
    reps = int(np.ceil(seconds * sr / y.size))
    return np.tile(y, reps)[: int(seconds * sr)]


def wav(y: np.ndarray, sr: int = SR, subtype: str = "PCM_16") -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, y, sr, format="WAV", subtype=subtype)
    return buffer.getvalue()


def png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 4, 4, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" + b"\xff\x00\x00" * 4 * 4)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def corrupt_flac() -> bytes:
    data = bytearray(encode(music(6.0), SR, "flac"))
    middle = len(data) // 2
    data[middle : middle + 2000] = np.random.default_rng(3).bytes(2000)
    return bytes(data)


def float_with_nan_inf() -> bytes:
    y = music(5.0)
    y[1000:5000] = np.nan
    y[9000] = np.inf
    y[9001] = -np.inf
    return wav(y, subtype="FLOAT")


def channels(n: int) -> bytes:
    y = music(5.0)
    return wav(np.stack([y * (1 - 0.1 * c) for c in range(n)], axis=1))


def rate(sr: int) -> bytes:
    return wav(music(5.0, sr), sr)


def depth(subtype: str) -> bytes:
    return wav(music(5.0), subtype=subtype)


@dataclass(frozen=True)
class Case:
    name: str
    filename: str
    make: Callable[[], bytes]
    outcome: str | type[Exception]
    phrase: str = ""


CASES: list[Case] = [
    Case("empty file", "empty.wav", lambda: b"", AudioDecodeError, "empty (0 bytes)"),
    Case(
        "random bytes", "noise.ogg", lambda: np.random.default_rng(7).bytes(20_000), AudioDecodeError, "Could not read"
    ),
    Case(
        "text named .mp3",
        "lyrics.mp3",
        lambda: b"la la la, this is not audio\n" * 50,
        AudioDecodeError,
        "Could not read",
    ),
    Case("PNG named .wav", "cover.wav", png, AudioDecodeError, "Could not read"),
    Case(
        "WAV header, no frames", "hollow.wav", lambda: wav(np.zeros(0, np.float32)), AudioTooShortError, "0.00 s long"
    ),
    Case("WAV truncated mid-data", "cut.wav", lambda: wav(music(8.0))[: 44 + 2 * SR * 4 + 1], OK),
    Case("MP3 truncated mid-frame", "cut.mp3", lambda: encode(music(8.0), SR, "mp3")[:40_001], OK),
    Case("FLAC with a corrupted block", "damaged.flac", corrupt_flac, OK),
    Case("8 kHz", "r8000.wav", lambda: rate(8000), OK),
    Case("44.1 kHz", "r44100.wav", lambda: rate(44100), OK),
    Case("48 kHz", "r48000.wav", lambda: rate(48000), OK),
    Case("96 kHz", "r96000.wav", lambda: rate(96000), OK),
    Case("mono", "c1.wav", lambda: channels(1), OK),
    Case("stereo", "c2.wav", lambda: channels(2), OK),
    Case("6 channels", "c6.wav", lambda: channels(6), OK),
    Case("8-bit", "u8.wav", lambda: depth("PCM_U8"), OK),
    Case("16-bit", "s16.wav", lambda: depth("PCM_16"), OK),
    Case("24-bit", "s24.wav", lambda: depth("PCM_24"), OK),
    Case("32-bit float", "f32.wav", lambda: depth("FLOAT"), OK),
    Case("float with NaN/Inf", "nan.wav", float_with_nan_inf, OK),
    Case("DC offset", "dc.wav", lambda: wav(0.5 * music(5.0) + 0.4), OK),
    Case("clipping", "clipped.wav", lambda: wav(np.clip(8 * music(5.0), -1, 1)), OK),
    Case(
        "digital silence", "silence.wav", lambda: wav(np.zeros(5 * SR, np.float32)), SilentAudioError, "digital silence"
    ),
    Case(
        "near-silence (-80 dBFS)",
        "whisper.wav",
        lambda: wav(1e-4 * music(5.0) / np.abs(music(5.0)).max(), subtype="FLOAT"),
        SilentAudioError,
        "silent",
    ),
    Case(
        "white noise",
        "white.wav",
        lambda: wav(0.3 * np.random.default_rng(1).standard_normal(5 * SR).astype(np.float32)),
        OK,
    ),
    Case("0.2-s click", "click.wav", lambda: wav(music(0.2)), AudioTooShortError, "0.20 s long"),
    Case("2.9-s clip", "short.wav", lambda: wav(music(2.9)), OK),
    Case("extension lies (FLAC named .mp3)", "flac.mp3", lambda: encode(music(5.0), SR, "flac"), OK),
    Case("extension lies (M4A named .wav)", "aac.wav", lambda: encode(music(5.0, 44100), 44100, "m4a"), OK),
]
