"""The torch log-mel that served inference until issue 28, kept verbatim as the parity reference.

`genre_core.features` now computes the same thing in numpy (no torch on the serving path);
`tests/test_windows_features.py` keeps the two within 1e-4 on real clips for both shipped models.
"""

from __future__ import annotations

import numpy as np
import torch

from genre_core.config import FeatureConfig
from genre_core.features import AMIN, mel_filters


class TorchLogMel:
    """Holds the Hann window and mel filter bank so each call only computes."""

    def __init__(self, cfg: FeatureConfig) -> None:
        self.cfg = cfg
        self._window = torch.hann_window(cfg.n_fft, periodic=True)
        filters = mel_filters(cfg.sample_rate, cfg.n_fft, cfg.n_mels, cfg.fmin, cfg.fmax)
        self._filters = torch.from_numpy(filters.astype(np.float32))

    def power(self, audio: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Mel power of `(..., samples)` audio → `(..., n_mels, frames)`."""
        y = torch.as_tensor(audio, dtype=torch.float32)
        lead = y.shape[:-1]
        y = y.reshape(-1, y.shape[-1])
        # librosa (>=0.10) pads centred frames with zeros, not reflection.
        spec = torch.stft(
            y,
            n_fft=self.cfg.n_fft,
            hop_length=self.cfg.hop_length,
            window=self._window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        power = spec.real.square() + spec.imag.square()
        mel = torch.matmul(self._filters, power)
        return mel.reshape(*lead, *mel.shape[-2:])

    def absolute_db(self, audio: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Mel power in dB relative to 1.0 (what the training cache stores)."""
        return 10.0 * torch.log10(torch.clamp(self.power(audio), min=AMIN))

    def __call__(self, windows: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Per-window model input `(n, n_mels, window_frames)`, compressed as the checkpoint says."""
        return COMPRESSIONS[self.cfg.compression](self, windows)[..., : self.cfg.window_frames]

    def log10_1p(self, audio: np.ndarray | torch.Tensor) -> torch.Tensor:
        """musicnn's "logC": log10(1 + C * mel power), computed in float32."""
        return torch.log10(1.0 + self.cfg.log_gain * self.power(audio))

    def relative(self, audio: np.ndarray | torch.Tensor) -> torch.Tensor:
        """dB below each window's own peak, floored at -top_db: gain-free."""
        return relative_db(self.absolute_db(audio), self.cfg.top_db)

    def floor(self) -> float:
        """The value silence maps to: the darkest colour of a spectrogram of this input."""
        return -self.cfg.top_db if self.cfg.compression == "db" else 0.0


#: Feature compression by `FeatureConfig.compression`.
COMPRESSIONS = {"db": TorchLogMel.relative, "log10_1p": TorchLogMel.log10_1p}


def relative_db(absolute: torch.Tensor, top_db: float) -> torch.Tensor:
    """Re-reference each `(..., n_mels, frames)` block to its own maximum.

    Training crops from the cached whole-song spectrogram go through this
    too, so a crop and an inference window get identical treatment.
    """
    peak = absolute.amax(dim=(-2, -1), keepdim=True)
    return torch.clamp(absolute - peak, min=-top_db)
