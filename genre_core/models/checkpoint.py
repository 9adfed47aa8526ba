"""One file holds a trained model: weights, config, labels and its metrics.

Saved with `torch.save` as plain dicts, tensors and numbers, and loaded
with `weights_only=True`, so opening a checkpoint never runs code.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..config import GenreConfig
from ..errors import CheckpointError
from .families import build_model
from .onnx import refresh_export
from .registry import missing_model, resolve_model

log = logging.getLogger("genre_core.checkpoint")
FORMAT_VERSION = 1


@dataclass
class Checkpoint:
    """A model ready to run, plus everything needed to trust and explain it."""

    model: nn.Module
    config: GenreConfig
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] = field(default_factory=dict)
    #: The file it was loaded from or saved to; its ONNX export sits beside it.
    path: Path | None = None

    @property
    def labels(self) -> tuple[str, ...]:
        return self.config.labels


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    config: GenreConfig,
    metrics: dict[str, Any] | None = None,
    training: dict[str, Any] | None = None,
    calibration: dict[str, Any] | None = None,
    export: bool = True,
) -> Path:
    """Save the checkpoint and, with `export`, refresh its ONNX export if the weights changed, and its sidecar."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format_version": FORMAT_VERSION,
        "config": config.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "metrics": metrics or {},
        "training": training or {},
        "calibration": calibration or {},
    }
    # Write beside, then rename: a reader never sees a half-written checkpoint.
    partial = path.with_name(f".{path.name}.partial")
    torch.save(payload, partial)
    os.replace(partial, path)
    if export:
        refresh_export(
            Checkpoint(model, config, payload["metrics"], payload["training"], payload["calibration"], path), log
        )
    return path


def load_checkpoint(path: str | Path | None = None) -> Checkpoint:
    """Load safely; every way a file can be wrong becomes a CheckpointError."""
    path = resolve_model(path)
    if not path.is_file():
        raise CheckpointError(missing_model(path))
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged or unsafe files
        raise CheckpointError(f"'{path.name}' is not a readable genre_core checkpoint: {exc}") from exc
    if not isinstance(payload, dict) or "state_dict" not in payload or "config" not in payload:
        raise CheckpointError(f"'{path.name}' is not a genre_core checkpoint (no weights or config).")
    version = payload.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(
            f"'{path.name}' has checkpoint format {version}; this code reads format {FORMAT_VERSION}."
        )
    try:
        config = GenreConfig.from_dict(payload["config"])
        model = build_model(config)
        model.load_state_dict(payload["state_dict"])
    except (ValueError, TypeError, RuntimeError) as exc:
        raise CheckpointError(f"This code cannot run the model in '{path.name}': {exc}") from exc
    model.eval()
    return Checkpoint(
        model, config, payload.get("metrics", {}), payload.get("training", {}), payload.get("calibration", {}), path
    )


def store_calibration(path: str | Path, key: str, value: dict[str, Any]) -> None:
    """Put one entry (a head fitted on the model's outputs) into a checkpoint's calibration and its metrics index.

    The weights do not change, so the ONNX export stays current and is not rewritten.
    """
    ckpt = load_checkpoint(path)
    calibration = {**ckpt.calibration, key: value}
    save_checkpoint(path, ckpt.model, ckpt.config, ckpt.metrics, ckpt.training, calibration)
    write_metrics_index(path, load_checkpoint(path))


def write_metrics_index(path: str | Path, checkpoint: Checkpoint) -> Path:
    """Mirror a checkpoint's metrics, calibration and training summary into `metrics.json` beside it.

    Keyed by the checkpoint's file name, so one index serves every model in the folder. Called by
    whatever re-records a checkpoint's figures (`evaluate --save`, `calibrate`), so the index
    never lags the checkpoint.
    """
    path = Path(path)
    summary = {
        **checkpoint.metrics,
        "calibration": checkpoint.calibration,
        "training": {k: v for k, v in checkpoint.training.items() if k != "history"},
    }
    index = path.parent / "metrics.json"
    every = json.loads(index.read_text()) if index.is_file() else {}
    if "test" in every or "valid" in every:  # the one-model layout of earlier versions
        every = {}
    every[path.stem] = summary
    index.write_text(json.dumps(every, indent=2))
    return index
