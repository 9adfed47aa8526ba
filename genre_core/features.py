"""Batched log-mel spectrograms in numpy, numerically matching librosa.

One framed FFT serves every window of a song. The output is librosa's
`power_to_db(melspectrogram(...), ref=np.max, top_db=80)` per window:
each window's loudest bin is 0 dB, so the model ignores playback gain.
numpy rather than torch, so serving needs no torch (issue 28). It equals librosa
within 1e-4 dB on every bin, and the torch STFT it replaced within 1e-4 above
-60 dB; below, torch's float32 rounding is the larger error (`tests/test_windows_features.py`).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .config import FeatureConfig

AMIN = 1e-10
#: Windows per FFT batch (`LogMel.power`): bounds the float64 intermediates of a long timeline.
CHUNK_WINDOWS = 8


class LogMel:
    """Holds the Hann window and mel filter bank so each call only computes."""

    def __init__(self, cfg: FeatureConfig) -> None:
        self.cfg = cfg
        # torch.hann_window(periodic=True) == scipy's sym=False Hann: librosa's window.
        n = np.arange(cfg.n_fft)
        self._window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / cfg.n_fft)
        self._filters = mel_filters(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax).astype(np.float64)

    def power(self, audio: np.ndarray) -> np.ndarray:
        """Mel power of `(..., samples)` audio → `(..., n_mels, frames)`.

        In float64: numpy's float64 FFT is both faster here than its float32 one and as exact as
        librosa's own float64 path, so the deep (-60 to -80 dB) bins carry no rounding noise.
        """
        y = np.asarray(audio, dtype=np.float32)
        lead = y.shape[:-1]
        y = y.reshape(-1, y.shape[-1])
        # A few windows at a time: the float64 frames and spectrum of one window take ~4 MB (n_fft 2048),
        # so a 600-window timeline stays at tens of MB instead of gigabytes.
        mel = [self._mel_power(y[start : start + CHUNK_WINDOWS]) for start in range(0, len(y), CHUNK_WINDOWS)]
        mel = np.concatenate(mel) if mel else np.zeros((0, self.cfg.n_mels, 0))
        return mel.reshape(*lead, *mel.shape[-2:])

    def _mel_power(self, y: np.ndarray) -> np.ndarray:
        half = self.cfg.n_fft // 2
        # librosa (>=0.10) pads centred frames with zeros, not reflection.
        padded = np.pad(y.astype(np.float64), ((0, 0), (half, half)))
        frames = sliding_window_view(padded, self.cfg.n_fft, axis=-1)[:, :: self.cfg.hop_length]
        spec = np.fft.rfft(frames * self._window, axis=-1)  # (windows, frames, bins)
        power = spec.real**2 + spec.imag**2
        return np.matmul(self._filters, power.transpose(0, 2, 1))

    def absolute_db(self, audio: np.ndarray) -> np.ndarray:
        """Mel power in dB relative to 1.0 (what the training cache stores)."""
        return (10.0 * np.log10(np.maximum(self.power(audio), AMIN))).astype(np.float32)

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        """Per-window model input `(n, n_mels, window_frames)`, compressed as the checkpoint says."""
        return COMPRESSIONS[self.cfg.compression](self, windows)[..., : self.cfg.window_frames]

    def log10_1p(self, audio: np.ndarray) -> np.ndarray:
        """musicnn's "logC": log10(1 + C * mel power)."""
        return np.log10(1.0 + self.cfg.log_gain * self.power(audio)).astype(np.float32)

    def relative(self, audio: np.ndarray) -> np.ndarray:
        """dB below each window's own peak, floored at -top_db: gain-free."""
        return relative_db(self.absolute_db(audio), self.cfg.top_db)

    def floor(self) -> float:
        """The value silence maps to: the darkest colour of a spectrogram of this input."""
        return -self.cfg.top_db if self.cfg.compression == "db" else 0.0


#: Feature compression by `FeatureConfig.compression`.
COMPRESSIONS = {"db": LogMel.relative, "log10_1p": LogMel.log10_1p}


def relative_db(absolute: np.ndarray, top_db: float) -> np.ndarray:
    """Re-reference each `(..., n_mels, frames)` block to its own maximum.

    Training crops from the cached whole-song spectrogram go through this
    too, so a crop and an inference window get identical treatment.
    """
    peak = absolute.max(axis=(-2, -1), keepdims=True)
    return np.maximum(absolute - peak, np.float32(-top_db)).astype(np.float32, copy=False)


#: Slaney's mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above.
_F_SP, _MIN_LOG_HZ = 200.0 / 3, 1000.0
_MIN_LOG_MEL, _LOGSTEP = _MIN_LOG_HZ / _F_SP, np.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    log_part = _MIN_LOG_MEL + np.log(np.maximum(hz, 1e-10) / _MIN_LOG_HZ) / _LOGSTEP
    return np.where(hz >= _MIN_LOG_HZ, log_part, hz / _F_SP)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= _MIN_LOG_MEL, _MIN_LOG_HZ * np.exp(_LOGSTEP * (mel - _MIN_LOG_MEL)), _F_SP * mel)


def mel_filters(sr: int, n_fft: int, n_mels: int, fmin: float = 0.0, fmax: float | None = None) -> np.ndarray:
    """`librosa.filters.mel` (Slaney scale and area norm), in numpy: `(n_mels, 1 + n_fft // 2)`.

    Written out because importing librosa's filters costs about 1.5 s of a cold start;
    `tests/test_windows_features.py` checks it against librosa for every model's settings.
    """
    fmax = sr / 2.0 if fmax is None else fmax
    fft_hz = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_hz = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    gaps = np.diff(mel_hz)
    ramps = mel_hz[:, None] - fft_hz[None, :]
    lower = -ramps[:-2] / gaps[:-1, None]
    upper = ramps[2:] / gaps[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_hz[2:] - mel_hz[:-2]))[:, None]
    return weights.astype(np.float32)


def librosa_reference(window: np.ndarray, cfg: FeatureConfig) -> np.ndarray:
    """The plain librosa computation this module is tested against."""
    import librosa

    mel = librosa.feature.melspectrogram(
        y=window,
        sr=cfg.sample_rate,
        n_fft=cfg.n_fft,
        hop_length=cfg.hop_length,
        n_mels=cfg.n_mels,
        fmin=cfg.fmin,
        fmax=cfg.fmax,
    )
    return librosa.power_to_db(mel, ref=np.max, amin=AMIN, top_db=cfg.top_db)
