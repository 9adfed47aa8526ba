"""Recording-style augmentation: the same music through another recording chain.

What separates GTZAN from a user's files is mostly the chain a recording went
through: lossy encoding, a narrower band, a different tonal balance, a level.
Each function takes a mono float32 recording at `rate` and returns it as it
would sound after one such chain; `render` returns encoded bytes that go
through the app's own decoder, so training sees exactly what inference would.

The transfer CRNN reads 16 kHz audio, so only what happens below 8 kHz can
change its input: band limits are drawn between 4 and 7.5 kHz.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import soundfile as sf
from scipy import signal

from ..audio import resample

#: One chain per recording, in rotation, so each can be measured on its own third of the train split.
STYLES: tuple[str, ...] = ("mp3", "bandlimit", "eq")
MP3_RATE = 44100


@dataclass(frozen=True)
class StyleParams:
    """The random draw of one chain; stored beside the cached windows so a run can be explained."""

    style: str
    kbps: int = 0
    cutoff_hz: float = 0.0
    low_shelf_db: float = 0.0
    high_shelf_db: float = 0.0
    gain_db: float = 0.0


def draw(style: str, rng: np.random.Generator) -> StyleParams:
    """A random chain of the given kind, each with a random level (±6 dB)."""
    gain = float(rng.uniform(-6.0, 6.0))
    if style == "mp3":
        return StyleParams(style, kbps=int(rng.choice([64, 96, 128, 192])), gain_db=gain)
    if style == "bandlimit":
        return StyleParams(style, cutoff_hz=float(rng.uniform(4000.0, 7500.0)), gain_db=gain)
    if style == "eq":
        return StyleParams(
            style, low_shelf_db=float(rng.uniform(-8.0, 8.0)), high_shelf_db=float(rng.uniform(-8.0, 8.0)), gain_db=gain
        )
    raise ValueError(f"unknown recording style '{style}' (known: {STYLES})")


def shelf(y: np.ndarray, rate: int, freq: float, gain_db: float, high: bool) -> np.ndarray:
    """RBJ cookbook shelving filter (slope 1): `gain_db` above (high) or below `freq`."""
    a = 10 ** (gain_db / 40)
    w0 = 2 * np.pi * freq / rate
    cos, alpha = np.cos(w0), np.sin(w0) / 2 * np.sqrt(2)
    sign = 1 if high else -1
    sq = 2 * np.sqrt(a) * alpha
    b = a * np.array([(a + 1) + sign * (a - 1) * cos + sq, -2 * sign * ((a - 1) + sign * (a + 1) * cos)])
    b = np.append(b, a * ((a + 1) + sign * (a - 1) * cos - sq))
    den = np.array(
        [
            (a + 1) - sign * (a - 1) * cos + sq,
            2 * sign * ((a - 1) - sign * (a + 1) * cos),
            (a + 1) - sign * (a - 1) * cos - sq,
        ]
    )
    return signal.lfilter(b / den[0], den / den[0], y).astype(np.float32)


def apply(y: np.ndarray, rate: int, params: StyleParams) -> np.ndarray:
    """The chain's filtering and level (not its encoding), kept within ±1."""
    out = y.astype(np.float32)
    if params.cutoff_hz:
        sos = signal.butter(8, params.cutoff_hz, btype="low", fs=rate, output="sos")
        out = signal.sosfilt(sos, out).astype(np.float32)
    if params.low_shelf_db:
        out = shelf(out, rate, 250.0, params.low_shelf_db, high=False)
    if params.high_shelf_db:
        out = shelf(out, rate, 3000.0, params.high_shelf_db, high=True)
    out = out * np.float32(10 ** (params.gain_db / 20))
    peak = float(np.abs(out).max()) if out.size else 0.0
    return out / peak if peak > 1.0 else out  # a louder chain limits rather than clips


def render(y: np.ndarray, rate: int, params: StyleParams) -> bytes:
    """The recording after the chain, as the bytes of a file (MP3 for the mp3 chain, else 16-bit WAV)."""
    out = apply(y, rate, params)
    buffer = io.BytesIO()
    if params.style == "mp3":
        # Encoded at 44.1 kHz, as users' MP3s are, so a bitrate means what it means for them.
        # libsndfile's LAME encoder maps compression_level 0..1 linearly onto MPEG-1's 320..32 kbps.
        level = 1.0 - (params.kbps - 32) / (320 - 32)
        sf.write(
            buffer,
            resample(out, rate, MP3_RATE),
            MP3_RATE,
            format="MP3",
            compression_level=level,
            bitrate_mode="CONSTANT",
        )
    else:
        sf.write(buffer, out, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()
