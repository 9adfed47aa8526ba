"""Data for drawing a song: a min/max waveform envelope and mel-axis labels.

The envelope is built from blocks read one after another, so a long song
is never held in memory whole, and the result has a fixed number of points.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .audio import AudioSource, open_audio
from .config import FeatureConfig
from .features import hz_to_mel, mel_to_hz

BLOCK_SECONDS = 30.0


@dataclass(frozen=True)
class Envelope:
    """Per-bucket minimum and maximum sample, at bucket start times."""

    times_s: np.ndarray
    low: np.ndarray
    high: np.ndarray
    duration_s: float
    truncated: bool


def waveform_envelope(
    source: AudioSource, cfg: FeatureConfig, points: int = 2000, max_seconds: float = 1200.0
) -> Envelope:
    """Min/max envelope of the first `max_seconds` in `points` buckets."""
    with open_audio(source, cfg.sample_rate) as reader:
        duration = reader.duration_s
        span = min(duration, max_seconds)
        bucket = max(span / points, 1 / cfg.sample_rate)
        lows, highs = [], []
        start = 0.0
        while start < span:
            block = reader.read(start, min(BLOCK_SECONDS, span - start))
            if block.size == 0:
                break
            per = max(1, int(round(bucket * cfg.sample_rate)))
            usable = (
                block[: block.size - block.size % per] if block.size >= per else np.pad(block, (0, per - block.size))
            )
            shaped = usable.reshape(-1, per)
            lows.append(shaped.min(axis=1))
            highs.append(shaped.max(axis=1))
            start += BLOCK_SECONDS
    low = np.concatenate(lows) if lows else np.zeros(0, np.float32)
    high = np.concatenate(highs) if highs else np.zeros(0, np.float32)
    times = np.arange(low.size) * (max(1, int(round(bucket * cfg.sample_rate))) / cfg.sample_rate)
    return Envelope(times, low, high, duration, truncated=duration > max_seconds)


def mel_band_hz(cfg: FeatureConfig) -> np.ndarray:
    """Centre frequency (Hz) of each mel band, for labelling a spectrogram's y axis."""
    fmax = cfg.fmax or cfg.sample_rate / 2
    return mel_to_hz(np.linspace(hz_to_mel(cfg.fmin), hz_to_mel(fmax), cfg.n_mels + 2))[1:-1]


def frame_times(cfg: FeatureConfig, start_s: float = 0.0) -> np.ndarray:
    """Time (s) of each frame of one window, counted from the song's start."""
    return start_s + np.arange(cfg.window_frames) * cfg.hop_length / cfg.sample_rate
