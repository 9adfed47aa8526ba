"""A model served by ONNX Runtime alone: the export plus its sidecar, with no torch import.

Each checkpoint `name.pt` ships with `name.onnx` (the network) and `name.serve.json` (everything
else inference needs: the `GenreConfig`, labels, temperature and heads in `calibration`,
metrics, the tag labels, the occlusion grid and band means). `python -m genre_core export`
and every `save_checkpoint` write the sidecar; it records the fingerprint stamped into the
export and the sha256 of the checkpoint file, so serving is as strict as loading the
checkpoint: a retrained or edited `.pt`, or an export from other weights, is stale.
A folder holding only `.onnx` + `.serve.json` (no checkpoint) serves too.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..config import GenreConfig

#: Windows per ONNX Runtime pass. Its arena keeps a pass's peak buffers for the next, and the transfer
#: CRNN's front end holds ~9 MB of activations per window before pooling: two per pass keep a one-song
#: predict at ~160 MB peak RSS against ~365 MB at 16 (tests/bench_serve.py). The default of a family
#: that `ONNX_BATCH_WINDOWS_BY_FAMILY` does not name.
ONNX_BATCH_WINDOWS = 2
#: Windows per pass by model family, where measurement chose another than the default (`bench --batch-curve`:
#: the fastest setting whose one-song predict peaks at <= 300 MB). The transfer CRNN at 5: 249 ms against 282 ms
#: per warm 4-min MP3 (269 against 287 on a 30-s one), peak 266 MB against 157 MB (medians of 3 paired fresh
#: processes x 7 runs); 10 per pass peaks at 362 MB. The fast CRNN keeps 2: 1 to 20 were equal within the noise.
ONNX_BATCH_WINDOWS_BY_FAMILY: dict[str, int] = {"musicnn_crnn": 5}
SIDECAR_VERSION = 1
FINGERPRINT_KEY = "genre_core_fingerprint"
EXPORT_HINT = "python -m genre_core export {path} (with the full install: pip install -r requirements.txt)"


@dataclass(frozen=True)
class ModelInfo:
    """Everything about a model but its weights: what the classifier, explain and the pages read."""

    config: GenreConfig
    metrics: dict[str, Any]
    training: dict[str, Any]
    calibration: dict[str, Any]
    #: Labels of the pretrained tag head's outputs; empty for a family without one.
    tag_labels: tuple[str, ...]
    #: Occlusion patch and stride, in (mel bands, frames), that suit the family's input.
    saliency_grid: tuple[tuple[int, int], tuple[int, int]]
    #: Mean model input per mel band: the occlusion map's "nothing special".
    band_mean: np.ndarray = field(repr=False)
    n_parameters: int
    #: The checkpoint it describes (its export and sidecar sit beside it).
    path: Path | None

    @property
    def labels(self) -> tuple[str, ...]:
        return self.config.labels

    def to_dict(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "metrics": self.metrics,
            "training": self.training,
            "calibration": self.calibration,
            "tag_labels": list(self.tag_labels),
            "saliency_grid": [list(self.saliency_grid[0]), list(self.saliency_grid[1])],
            "band_mean": [float(v) for v in self.band_mean],
            "n_parameters": self.n_parameters,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], path: Path | None) -> ModelInfo:
        patch, stride = data["saliency_grid"]
        return cls(
            config=GenreConfig.from_dict(data["config"]),
            metrics=data.get("metrics", {}),
            training=data.get("training", {}),
            calibration=data.get("calibration", {}),
            tag_labels=tuple(data.get("tag_labels", ())),
            saliency_grid=(tuple(patch), tuple(stride)),
            band_mean=np.asarray(data["band_mean"], dtype=np.float32),
            n_parameters=int(data.get("n_parameters", 0)),
            path=path,
        )


def sidecar_path(checkpoint_path: str | Path) -> Path:
    """Where a checkpoint's serving sidecar lives: beside it, `name.serve.json`."""
    return Path(checkpoint_path).with_suffix(".serve.json")


def onnx_path(checkpoint_path: str | Path) -> Path:
    """Where a checkpoint's export lives: beside it, same name, `.onnx`."""
    return Path(checkpoint_path).with_suffix(".onnx")


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_sidecar(info: ModelInfo, fingerprint: str) -> Path:
    """Write `info` beside its checkpoint, bound to the export's fingerprint and the checkpoint's bytes."""
    if info.path is None:
        raise ValueError("only a checkpoint saved to a file has a sidecar beside it")
    target = sidecar_path(info.path)
    payload = {
        "format_version": SIDECAR_VERSION,
        "export_fingerprint": fingerprint,
        "checkpoint_sha256": file_sha256(info.path),
        **info.to_dict(),
    }
    partial = target.with_name(f".{target.name}.partial")
    partial.write_text(json.dumps(payload, indent=1))
    partial.replace(target)
    return target


def default_threads() -> int:
    """ONNX Runtime threads: OMP_NUM_THREADS where set, else the cores this process may use."""
    env = os.environ.get("OMP_NUM_THREADS", "")
    if env.isdigit() and int(env) > 0:
        return int(env)
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class OnnxModel:
    """An ONNX Runtime session over one export: `(windows, mels, frames)` → logits (and tag probabilities)."""

    batch_windows = ONNX_BATCH_WINDOWS
    device = "cpu"
    device_label = "CPU"

    def __init__(
        self, path: Path, threads: int | None = None, batch_windows: int | None = None, arena: bool = True
    ) -> None:
        import onnxruntime as ort

        if batch_windows is not None:
            self.batch_windows = batch_windows
        options = ort.SessionOptions()
        options.enable_cpu_mem_arena = arena
        options.intra_op_num_threads = threads or default_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.path = path
        self.version = ort.__version__
        self.label = f"ONNX Runtime {self.version}"
        self.with_tags = len(self.session.get_outputs()) > 1
        # Read through ONNX Runtime itself, so the inference path never imports the onnx package.
        self.fingerprint = self.session.get_modelmeta().custom_metadata_map.get(FINGERPRINT_KEY)

    def __call__(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        outputs = self.session.run(None, {"features": np.ascontiguousarray(features, dtype=np.float32)})
        return outputs[0], (outputs[1] if self.with_tags else None)


def open_session(path: Path, threads: int | None, family: str | None = None) -> tuple[OnnxModel | None, str]:
    """A session over `path`, or why there is none (missing file, no onnxruntime, unreadable).

    `family`: the model's family, for its measured windows per pass (`ONNX_BATCH_WINDOWS_BY_FAMILY`).
    """
    if not path.is_file():
        return None, f"no export {path.name} beside the checkpoint"
    try:
        return OnnxModel(path, threads, ONNX_BATCH_WINDOWS_BY_FAMILY.get(family or "", ONNX_BATCH_WINDOWS)), ""
    except ImportError:
        return None, "onnxruntime is not installed (pip install -r requirements-serve.txt)"
    except Exception as exc:  # onnxruntime's own errors: a damaged or foreign file
        return None, f"ONNX Runtime cannot open {path.name} ({exc})"


@dataclass
class ServedModel:
    """An export and its sidecar that belong together and to the checkpoint beside them."""

    info: ModelInfo
    network: OnnxModel


def read_info(checkpoint_path: Path) -> tuple[ModelInfo | None, str, str]:
    """The sidecar's `ModelInfo` if it is readable and matches the checkpoint's bytes; else None and why.

    Also returns the export fingerprint it was written with. Enough for what reads only calibration
    (write thresholds): it opens no ONNX Runtime session.
    """
    hint = EXPORT_HINT.format(path=checkpoint_path)
    sidecar = sidecar_path(checkpoint_path)
    if not sidecar.is_file():
        return None, f"no serving sidecar {sidecar.name} beside the checkpoint; write it: {hint}", ""
    try:
        data = json.loads(sidecar.read_text())
        if data.get("format_version") != SIDECAR_VERSION:
            raise ValueError(f"format {data.get('format_version')}, this code reads {SIDECAR_VERSION}")
        info = ModelInfo.from_dict(data, checkpoint_path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return None, f"{sidecar.name} is not a readable serving sidecar ({exc}); rewrite it: {hint}", ""
    if checkpoint_path.is_file() and file_sha256(checkpoint_path) != data.get("checkpoint_sha256"):
        return None, f"{checkpoint_path.name} changed after {sidecar.name} was written (stale); re-export: {hint}", ""
    return info, "", str(data.get("export_fingerprint"))


def open_served(checkpoint_path: Path, threads: int | None = None) -> tuple[ServedModel | None, str]:
    """The checkpoint's export and sidecar, checked current; else None and why (ending in how to export)."""
    info, problem, export_fingerprint = read_info(checkpoint_path)
    if info is None:
        return None, problem
    hint = EXPORT_HINT.format(path=checkpoint_path)
    network, problem = open_session(onnx_path(checkpoint_path), threads, info.config.model.family)
    if network is None:
        return None, f"{problem}; {hint}"
    if network.fingerprint != export_fingerprint:
        stale = f"{network.path.name} was exported from other weights than {sidecar_path(checkpoint_path).name} (stale)"
        return None, f"{stale}; re-export: {hint}"
    return ServedModel(info, network), ""
