"""Network families: what each must provide, and building one from a config (this half needs torch).

A network family enters through `ModelConfig.family` and one entry of `MODEL_FAMILIES`.
What a family must provide is written down in `ModelFamily`, so callers use those
members directly instead of probing with `hasattr`. Names, paths and titles of the
shipped models live in `models.registry`, which serving reads without importing torch.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from ..config import GenreConfig, ModelConfig
from .crnn import CRNN
from .musicnn import MusicnnCRNN


class ModelFamily(Protocol):
    """What every network family provides (`CRNN`, `MusicnnCRNN`)."""

    #: Labels of the extra tag head's outputs; empty for a family without one.
    tag_labels: tuple[str, ...]
    #: Occlusion patch and stride, in (mel bands, frames), that suit this family's input.
    saliency_grid: tuple[tuple[int, int], tuple[int, int]]

    def __call__(self, features: torch.Tensor) -> torch.Tensor:
        """`(windows, n_mels, frames)` model input → `(windows, n_classes)` genre logits."""
        ...

    def forward_with_tags(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Genre logits and tag probabilities `(windows, len(tag_labels))` from one pass."""
        ...

    def set_normalisation(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Store the training set's per-band input statistics inside the model."""
        ...

    def for_inference(self) -> nn.Module:
        """The fastest eval copy with the same outputs (fused, shared backbones)."""
        ...


class FamilyClass(Protocol):
    def __call__(self, cfg: ModelConfig, n_mels: int, n_classes: int) -> nn.Module: ...


#: Each network family enters here and nowhere else: `ModelConfig.family` → class.
MODEL_FAMILIES: dict[str, FamilyClass] = {"crnn": CRNN, "musicnn_crnn": MusicnnCRNN}


def build_model(config: GenreConfig) -> nn.Module:
    """A freshly initialised network of the config's family."""
    family = MODEL_FAMILIES.get(config.model.family)
    if family is None:
        raise ValueError(f"unknown model family '{config.model.family}' (known: {sorted(MODEL_FAMILIES)})")
    return family(config.model, n_mels=config.features.n_mels, n_classes=len(config.labels))
