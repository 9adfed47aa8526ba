"""ONNX exports of checkpoints, and running them with ONNX Runtime on a CPU.

Each checkpoint `name.pt` ships with `name.onnx`: the inference copy of its
network (genre logits, plus the pretrained tag probabilities where the model
has a tag head), exported when the checkpoint is saved, and `name.serve.json`,
the sidecar that lets `models.serving` run it with no torch at all. The export
records a fingerprint of the weights and config it came from; it runs only
while that fingerprint still matches, so a retrained or edited checkpoint can
never run through an old export (it falls back to PyTorch, or `runtime="onnx"`
fails with the reason). Calibration and metrics live outside the graph, so
re-saving a checkpoint with new figures keeps its export valid (the sidecar
is rewritten with them). This module is the torch side: exporting, and
opening an export for a checkpoint already loaded with torch.

On these 2-core CPUs ONNX Runtime runs the transfer CRNN about 2.3x faster
than PyTorch (fp32, same outputs to ~1e-6); see `python -m genre_core bench`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import warnings
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from ..config import RUNTIMES, GenreConfig
from ..errors import CheckpointError
from .crnn import count_parameters
from .serving import FINGERPRINT_KEY, ModelInfo, OnnxModel, onnx_path, open_session, write_sidecar

log = logging.getLogger("genre_core.runtime")


class Exportable(Protocol):
    """What exporting and opening an export need of a checkpoint (`models.checkpoint.Checkpoint` is one).

    A structural type, so this module never imports the checkpoint format that saves through it.
    """

    model: nn.Module
    config: GenreConfig
    metrics: dict[str, Any]
    training: dict[str, Any]
    calibration: dict[str, Any]
    path: Path | None


OPSET = 17


def model_info(checkpoint: Exportable) -> ModelInfo:
    """What serving needs of a checkpoint besides the network: its sidecar's content."""
    model = checkpoint.model
    return ModelInfo(
        config=checkpoint.config,
        metrics=checkpoint.metrics,
        training=checkpoint.training,
        calibration=checkpoint.calibration,
        tag_labels=tuple(model.tag_labels),
        saliency_grid=model.saliency_grid,
        band_mean=model.band_mean.detach().cpu().numpy().astype(np.float32),
        n_parameters=count_parameters(model),
        path=checkpoint.path,
    )


def fingerprint(model: nn.Module, config_dict: dict[str, Any]) -> str:
    """sha256 of the weights and the config: what an export must have been made from."""
    digest = hashlib.sha256(json.dumps(config_dict, sort_keys=True, default=list).encode())
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


class _Exported(nn.Module):
    """What the graph computes: the inference copy's logits, and its tag probabilities if it has a tag head."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.with_tags = bool(model.tag_labels)

    def forward(self, features: torch.Tensor) -> Any:
        return self.model.forward_with_tags(features) if self.with_tags else self.model(features)


def export_onnx(checkpoint: Exportable, target: str | Path, stamp: str | None = None) -> Path:
    """Export `checkpoint`'s inference network to `target` (written beside, then renamed)."""
    import onnx

    target = Path(target)
    wrapper = _Exported(checkpoint.model.for_inference().cpu().eval())
    cfg = checkpoint.config.features
    frames = cfg.window_frames
    example = torch.zeros(2, cfg.n_mels, frames)
    outputs = ["logits", "tags"] if wrapper.with_tags else ["logits"]
    partial = target.with_name(f".{target.name}.partial")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation and GRU-batch notices
        torch.onnx.export(
            wrapper,
            (example,),
            str(partial),
            input_names=["features"],
            output_names=outputs,
            dynamic_axes={name: {0: "windows"} for name in ["features", *outputs]},
            opset_version=OPSET,
            dynamo=False,
        )
    graph = onnx.load(str(partial))
    meta = graph.metadata_props.add()
    meta.key, meta.value = FINGERPRINT_KEY, stamp or fingerprint(checkpoint.model, checkpoint.config.to_dict())
    onnx.save(graph, str(partial))
    partial.replace(target)
    return target


def open_runtime(checkpoint: Exportable, runtime: str, device: str, threads: int | None = None) -> OnnxModel | None:
    """The ONNX session to run `checkpoint` with, or None for PyTorch.

    `auto`: ONNX Runtime on a CPU when the export is there and current, else PyTorch;
    `onnx`: ONNX Runtime or a CheckpointError saying why not; `torch`: PyTorch.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime '{runtime}' (known: {', '.join(RUNTIMES)})")
    if runtime == "torch" or (runtime == "auto" and device != "cpu"):
        return None
    model, problem = _open_current(checkpoint, threads)
    if model is not None:
        return model
    if runtime == "onnx":
        raise CheckpointError(f"Cannot run this model with ONNX Runtime: {problem}.")
    log.info("running PyTorch: %s", problem)
    return None


def _open_current(
    checkpoint: Exportable, threads: int | None = None, stamp: str | None = None
) -> tuple[OnnxModel | None, str]:
    """A session over the checkpoint's export if it is there and made from these weights, else why not.

    `stamp`: the checkpoint's fingerprint where the caller has already computed it (hashing the weights
    is the costly part).
    """
    if checkpoint.path is None:
        return None, "the model was not loaded from a file, so it has no export"
    path = onnx_path(checkpoint.path)
    model, problem = open_session(path, threads or torch.get_num_threads(), checkpoint.config.model.family)
    if model is None:
        return None, f"{problem}; export it: python -m genre_core export {checkpoint.path}"
    if model.fingerprint != (stamp or fingerprint(checkpoint.model, checkpoint.config.to_dict())):
        return None, f"{path.name} was exported from other weights (stale); re-export it: python -m genre_core export"
    return model, ""


def export_problem(checkpoint: Exportable) -> str | None:
    """Why `checkpoint` cannot run through its export (missing, unreadable, stale), or None when it can."""
    return _open_current(checkpoint)[1] or None


def refresh_export(checkpoint: Exportable, logger: logging.Logger = log) -> Path | None:
    """Write `checkpoint`'s ONNX export unless a current one is there, then its serving sidecar.

    The sidecar is rewritten every time (it is small), so it always carries the checkpoint's latest
    calibration and metrics and the sha256 of the file just saved. None when the exporter is missing.
    """
    if checkpoint.path is None:
        raise ValueError("only a checkpoint saved to a file has an export beside it")
    target = onnx_path(checkpoint.path)
    stamp = fingerprint(checkpoint.model, checkpoint.config.to_dict())  # once: the check, the export, the sidecar
    if _open_current(checkpoint, stamp=stamp)[1]:
        try:
            export_onnx(checkpoint, target, stamp)
        except ImportError as exc:
            logger.warning("no ONNX export for %s (%s): it will run with PyTorch", checkpoint.path, exc)
            return None
    write_sidecar(model_info(checkpoint), stamp)
    return target
