"""The CRNN: conv blocks read local timbre, a BiGRU reads rhythm and form.

Input normalisation (per-mel-band mean and std of the training set) lives
in the model as buffers, so the checkpoint alone defines what it expects.
"""

from __future__ import annotations

import copy
import math

import torch
from torch import nn

from ..config import ModelConfig


def _conv_block(c_in: int, c_out: int, pool: tuple[int, int]) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(pool),
    )


class CRNN(nn.Module):
    """`(batch, n_mels, frames)` log-mel dB → `(batch, n_classes)` logits."""

    #: No tag head: only genres.
    tag_labels: tuple[str, ...] = ()
    #: Occlusion patch and stride (mel bands, frames) for 128 bands × 130 frames.
    saliency_grid: tuple[tuple[int, int], tuple[int, int]] = ((16, 10), (8, 5))

    def __init__(self, cfg: ModelConfig, n_mels: int, n_classes: int) -> None:
        super().__init__()
        if not (len(cfg.conv_channels) == len(cfg.freq_pools) == len(cfg.time_pools)):
            raise ValueError("conv_channels, freq_pools and time_pools must have equal lengths")
        if cfg.pooling not in ("meanmax", "last"):
            raise ValueError(f"Unknown pooling '{cfg.pooling}' (meanmax or last)")
        freq_left = n_mels // math.prod(cfg.freq_pools)
        if freq_left < 1:
            raise ValueError(f"freq_pools {cfg.freq_pools} shrink {n_mels} mel bands to nothing")
        self.cfg = cfg
        self.register_buffer("band_mean", torch.zeros(n_mels))
        self.register_buffer("band_std", torch.ones(n_mels))
        blocks, c_in = [], 1
        for c_out, fp, tp in zip(cfg.conv_channels, cfg.freq_pools, cfg.time_pools, strict=True):
            blocks.append(_conv_block(c_in, c_out, (fp, tp)))
            c_in = c_out
        self.conv = nn.Sequential(*blocks)
        self.gru = nn.GRU(
            input_size=c_in * freq_left,
            hidden_size=cfg.gru_hidden,
            num_layers=cfg.gru_layers,
            batch_first=True,
            bidirectional=True,
            dropout=cfg.dropout if cfg.gru_layers > 1 else 0.0,
        )
        head_in = 2 * cfg.gru_hidden * (2 if cfg.pooling == "meanmax" else 1)
        self.head = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(head_in, n_classes))
        self.channels_last = False  # set by for_inference()

    def set_normalisation(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.band_mean.copy_(mean)
        self.band_std.copy_(torch.clamp(std, min=1e-3))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Conv features as a sequence `(batch, steps, features)`."""
        x = ((x - self.band_mean[:, None]) / self.band_std[:, None]).unsqueeze(1)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        x = self.conv(x)
        batch, channels, freq, steps = x.shape
        return x.permute(0, 3, 1, 2).reshape(batch, steps, channels * freq)

    def for_inference(self) -> CRNN:
        return for_inference(self)

    def forward_with_tags(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Genre logits and an empty tag matrix: the family has no tag head."""
        logits = self(x)
        return logits, logits.new_zeros(logits.shape[0], 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        seq, _ = self.gru(self.embed(x))
        if self.cfg.pooling == "last":  # the reference app: only the final step
            return self.head(seq[:, -1])
        pooled = torch.cat([seq.mean(dim=1), seq.amax(dim=1)], dim=1)
        return self.head(pooled)


def for_inference(model: CRNN) -> CRNN:
    """An eval-only copy that computes the same function faster on a CPU.

    - batch norm folded into the preceding conv (exact up to float rounding);
    - ReLU moved after max-pooling (ReLU is monotonic, so max and ReLU commute:
      the same numbers from a 4x smaller tensor);
    - channels-last memory layout, which oneDNN's convolutions run far faster.
    Training keeps the plain module; checkpoints store its weights.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval

    fast = copy.deepcopy(model).eval()
    blocks = []
    for conv, bn, relu, pool in fast.conv:
        blocks.append(nn.Sequential(fuse_conv_bn_eval(conv, bn), pool, relu))
    fast.conv = nn.Sequential(*blocks).to(memory_format=torch.channels_last)
    fast.channels_last = True
    return fast


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
