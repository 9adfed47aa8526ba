"""ONNX exports of checkpoints, and running them with ONNX Runtime on a CPU.

Each checkpoint `name.pt` ships with `name.onnx`: the inference copy of its
network (genre logits, plus the pretrained tag probabilities where the model
has a tag head), exported when the checkpoint is saved. The export records a
fingerprint of the weights and config it came from; a classifier runs it only
while that fingerprint still matches, so a retrained or edited checkpoint can
never run through an old export (it falls back to PyTorch, or `runtime="onnx"`
fails with the reason). Calibration and metrics live outside the graph, so
re-saving a checkpoint with new figures keeps its export valid.

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

log = logging.getLogger("genre_core.runtime")


class Exportable(Protocol):
    """What exporting and opening an export need of a checkpoint (`models.checkpoint.Checkpoint` is one).

    A structural type, so this module never imports the checkpoint format that saves through it.
    """

    model: nn.Module
    config: GenreConfig
    path: Path | None


OPSET = 17
FINGERPRINT_KEY = "genre_core_fingerprint"


def onnx_path(checkpoint_path: str | Path) -> Path:
    """Where a checkpoint's export lives: beside it, same name, `.onnx`."""
    return Path(checkpoint_path).with_suffix(".onnx")


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


def export_onnx(checkpoint: Exportable, target: str | Path) -> Path:
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
    meta.key, meta.value = FINGERPRINT_KEY, fingerprint(checkpoint.model, checkpoint.config.to_dict())
    onnx.save(graph, str(partial))
    partial.replace(target)
    return target


class OnnxModel:
    """An ONNX Runtime session over one export: `(windows, mels, frames)` → logits (and tag probabilities)."""

    def __init__(self, path: Path, threads: int) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.path = path
        self.version = ort.__version__
        self.with_tags = len(self.session.get_outputs()) > 1
        # Read through ONNX Runtime itself, so the inference path never imports the onnx package.
        self.fingerprint = self.session.get_modelmeta().custom_metadata_map.get(FINGERPRINT_KEY)

    def __call__(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        outputs = self.session.run(None, {"features": np.ascontiguousarray(features, dtype=np.float32)})
        return outputs[0], (outputs[1] if self.with_tags else None)


def open_runtime(checkpoint: Exportable, runtime: str, device: torch.device) -> OnnxModel | None:
    """The ONNX session to run `checkpoint` with, or None for PyTorch.

    `auto`: ONNX Runtime on a CPU when the export is there and current, else PyTorch;
    `onnx`: ONNX Runtime or a CheckpointError saying why not; `torch`: PyTorch.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime '{runtime}' (known: {', '.join(RUNTIMES)})")
    if runtime == "torch" or (runtime == "auto" and device.type != "cpu"):
        return None
    model, problem = _open_current(checkpoint)
    if model is not None:
        return model
    if runtime == "onnx":
        raise CheckpointError(f"Cannot run this model with ONNX Runtime: {problem}.")
    log.info("running PyTorch: %s", problem)
    return None


def _open_current(checkpoint: Exportable) -> tuple[OnnxModel | None, str]:
    """A session over the checkpoint's export if it is there and made from these weights, else why not."""
    if checkpoint.path is None:
        return None, "the model was not loaded from a file, so it has no export"
    path = onnx_path(checkpoint.path)
    if not path.is_file():
        return None, f"no export {path.name} beside the checkpoint (python -m genre_core export {checkpoint.path})"
    try:
        model = OnnxModel(path, torch.get_num_threads())
    except ImportError:
        return None, "onnxruntime is not installed (pip install -r requirements.txt)"
    except Exception as exc:  # onnxruntime's own errors: a damaged or foreign file
        return None, f"ONNX Runtime cannot open {path.name} ({exc}); re-export it: python -m genre_core export"
    if model.fingerprint != fingerprint(checkpoint.model, checkpoint.config.to_dict()):
        return None, f"{path.name} was exported from other weights (stale); re-export it: python -m genre_core export"
    return model, ""


def export_problem(checkpoint: Exportable) -> str | None:
    """Why `checkpoint` cannot run through its export (missing, unreadable, stale), or None when it can."""
    return _open_current(checkpoint)[1] or None


def refresh_export(checkpoint: Exportable, logger: logging.Logger = log) -> Path | None:
    """Write `checkpoint`'s ONNX export unless a current one is there; None when the exporter is missing."""
    if checkpoint.path is None:
        raise ValueError("only a checkpoint saved to a file has an export beside it")
    if export_problem(checkpoint) is None:
        return onnx_path(checkpoint.path)
    try:
        return export_onnx(checkpoint, onnx_path(checkpoint.path))
    except ImportError as exc:
        logger.warning("no ONNX export for %s (%s): it will run with PyTorch", checkpoint.path, exc)
        return None
