"""A checkpoint's network run by PyTorch: CUDA, Apple MPS, `--runtime torch`, or a checkpoint with no export.

The same call shape as `models.serving.OnnxModel`, numpy in and numpy out, so the classifier
never touches a tensor and the serving path never imports this module.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

#: Windows per forward pass: bounds activation memory for long timelines.
BATCH_WINDOWS = 64


def pick_device(device: str = "auto") -> torch.device:
    """CUDA if present, then Apple MPS, else CPU; or exactly what was asked."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but no CUDA GPU is available; use --device cpu or auto.")
    return torch.device(device)


class TorchNetwork:
    """The checkpoint's fastest eval copy on one device: `(windows, mels, frames)` → logits (and tags)."""

    batch_windows = BATCH_WINDOWS

    def __init__(self, model: nn.Module, device: str, threads: int | None = None) -> None:
        if threads:
            torch.set_num_threads(threads)
        self.torch_device = torch.device(device)
        # Each family's fastest eval copy (the CRNN: BN fused, channels-last; same outputs to ~1e-7).
        self.model = model.for_inference().to(self.torch_device)
        self.with_tags = bool(model.tag_labels)
        self.device = self.torch_device.type
        self.label = f"PyTorch {torch.__version__.split('+')[0]}"

    @property
    def device_label(self) -> str:
        if self.torch_device.type == "cuda":
            return f"CUDA ({torch.cuda.get_device_name(self.torch_device)})"
        return self.torch_device.type.upper()

    def __call__(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        batch = torch.from_numpy(np.ascontiguousarray(features, dtype=np.float32)).to(self.torch_device)
        with torch.inference_mode():
            if self.with_tags:
                logits, tags = self.model.forward_with_tags(batch)
                return logits.float().cpu().numpy(), tags.float().cpu().numpy()
            return self.model(batch).float().cpu().numpy(), None
