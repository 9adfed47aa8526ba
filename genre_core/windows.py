"""Where in a song the analysed windows go, and reading just those samples.

`spread` (default) samples the whole song, skipping a little of the
lead-in and fade-out of long songs, so a quiet intro does not decide
the genre. `first30` tiles the first 30 s, which is what GTZAN excerpts
and the best-known CRNN genre app look at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from .audio import AudioReader
from .config import FeatureConfig
from .errors import AudioTooShortError, SilentAudioError

Strategy = Literal["spread", "first30", "timeline"]
#: The ten-window strategies the app's headline result uses.
STRATEGIES: tuple[str, ...] = ("spread", "first30")
#: `timeline` covers the whole song every `hop_s` seconds (genre over time).
ALL_STRATEGIES: tuple[str, ...] = (*STRATEGIES, "timeline")
DEFAULT_TIMELINE_HOP_S = 3.0
MAX_TIMELINE_WINDOWS = 600

#: Long songs lose this share of their length at each end (capped below).
EDGE_FRACTION = 0.05
EDGE_CAP_S = 10.0


@dataclass(frozen=True)
class WindowPlan:
    """Start times (s) of each window, and whether the song needed padding."""

    starts_s: np.ndarray
    seconds: float
    padded: bool

    @property
    def ends_s(self) -> np.ndarray:
        return self.starts_s + self.seconds

    def subset(self, keep: np.ndarray) -> WindowPlan:
        return WindowPlan(self.starts_s[keep], self.seconds, self.padded)


def plan_windows(
    duration_s: float, cfg: FeatureConfig, strategy: str = "spread", hop_s: float = DEFAULT_TIMELINE_HOP_S
) -> WindowPlan:
    """Choose window start times for a song of `duration_s` seconds.

    `spread` and `first30` give `cfg.n_windows` windows; `timeline` gives one
    every `hop_s` seconds over the whole song (the hop grows if that would
    exceed MAX_TIMELINE_WINDOWS, keeping very long files bounded).
    """
    if strategy not in ALL_STRATEGIES:
        raise ValueError(f"Unknown window strategy '{strategy}'; choose one of {ALL_STRATEGIES}.")
    if hop_s <= 0:
        raise ValueError("The timeline hop must be positive.")
    if duration_s < cfg.min_seconds:
        raise AudioTooShortError(
            f"The recording is {duration_s:.2f} s long; at least {cfg.min_seconds:g} s of "
            "music is needed to guess a genre."
        )
    length = cfg.window_seconds
    count = cfg.n_windows
    if duration_s <= length:
        return WindowPlan(np.zeros(1 if strategy == "timeline" else count), length, padded=duration_s < length)
    if strategy == "timeline":
        last = duration_s - length
        hop = max(hop_s, last / (MAX_TIMELINE_WINDOWS - 1))
        starts = np.arange(0.0, last + 1e-9, hop)
        if last - starts[-1] > 1e-3:  # the last window always reaches the song's end
            starts = np.append(starts, last)
        return WindowPlan(np.round(starts, 3), length, padded=False)
    if strategy == "first30":
        span_start, span_end = 0.0, min(duration_s, count * length)
    else:
        edge = min(EDGE_FRACTION * duration_s, EDGE_CAP_S)
        if duration_s - 2 * edge < count * length:
            edge = max(0.0, (duration_s - count * length) / 2)
        span_start, span_end = edge, duration_s - edge
    starts = np.linspace(span_start, span_end - length, count)
    return WindowPlan(np.round(starts, 3), length, padded=False)


def read_windows(reader: AudioReader, plan: WindowPlan, cfg: FeatureConfig) -> tuple[WindowPlan, np.ndarray]:
    """Read each planned window as `(n_windows, window_samples)` float32.

    Overlapping plans (short songs) are read once and sliced; spread-out
    plans seek to each window, so memory never depends on song length.
    Silent windows (a quiet gap, or past the real end of a file whose header
    overstates its length) carry no genre and are dropped from the plan.
    """
    size = cfg.window_samples
    span = float(plan.ends_s.max() - plan.starts_s.min())
    if span <= 2 * len(plan.starts_s) * plan.seconds:
        first = float(plan.starts_s.min())
        block = reader.read(first, span)
        offsets = np.round((plan.starts_s - first) * cfg.sample_rate).astype(int)
        windows = [fit_window(block[o : o + size], size, loop=plan.padded) for o in offsets]
    else:
        windows = [fit_window(reader.read(float(s), plan.seconds), size) for s in plan.starts_s]
    batch = np.stack(windows)
    threshold = 10 ** (cfg.silence_dbfs / 20)
    audible = np.abs(batch).max(axis=1) >= threshold
    if not audible.any():
        _raise_silent(batch)
    if audible.all():
        return plan, batch
    return plan.subset(audible), batch[audible]


def fit_window(samples: np.ndarray, size: int, loop: bool = False) -> np.ndarray:
    """Trim to exactly `size` samples, or pad: by looping a short clip, else with zeros.

    Short clips are looped, not zero-padded: a window ending in digital silence
    was a shortcut the model learned (most short training clips were disco).
    Zeros remain only for reads that run past a file's real end.
    """
    if samples.size >= size:
        return samples[:size]
    if loop and samples.size:
        return np.resize(samples, size)  # np.resize repeats the clip from its start
    return np.pad(samples, (0, size - samples.size))


def _raise_silent(batch: np.ndarray) -> None:
    peak = float(np.abs(batch).max()) if batch.size else 0.0
    level = "digital silence" if peak == 0 else f"peak {20 * np.log10(peak):.0f} dBFS"
    raise SilentAudioError(f"The analysed parts of the recording are silent ({level}); there is no music to classify.")
