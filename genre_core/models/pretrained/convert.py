"""Map the TensorFlow MSD_musicnn variables onto the PyTorch port and save them.

    python -m genre_core convert-musicnn msd_musicnn_tf.npz --wheel musicnn-0.1.0-py3-none-any.whl

TensorFlow names layers by creation order (`conv2d_3`, `batch_normalization_7`);
the table below is that order in `musicnn/models.py: build_musicnn`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import torch

from ..musicnn import Musicnn

WEIGHTS_PATH = Path(__file__).resolve().parents[3] / "models" / "msd_musicnn.pt"

#: TensorFlow layer → PyTorch module, in the original graph's creation order.
LAYERS: tuple[tuple[str, str], ...] = (
    ("batch_normalization", "input_bn"),
    ("conv2d", "timbral.0.conv"),
    ("batch_normalization_1", "timbral.0.bn"),
    ("conv2d_1", "timbral.1.conv"),
    ("batch_normalization_2", "timbral.1.bn"),
    ("conv2d_2", "temporal.0.conv"),
    ("batch_normalization_3", "temporal.0.bn"),
    ("conv2d_3", "temporal.1.conv"),
    ("batch_normalization_4", "temporal.1.bn"),
    ("conv2d_4", "temporal.2.conv"),
    ("batch_normalization_5", "temporal.2.bn"),
    ("conv2d_5", "mid.0"),
    ("batch_normalization_6", "mid_bn.0"),
    ("conv2d_6", "mid.1"),
    ("batch_normalization_7", "mid_bn.1"),
    ("conv2d_7", "mid.2"),
    ("batch_normalization_8", "mid_bn.2"),
    ("batch_normalization_9", "pool_bn"),
    ("dense", "dense"),
    ("batch_normalization_10", "dense_bn"),
    ("dense_1", "tag_head"),
)
BN_NAMES = {"gamma": "weight", "beta": "bias", "moving_mean": "running_mean", "moving_variance": "running_var"}


def _kernel(array: np.ndarray, target: torch.Tensor) -> torch.Tensor:
    """TF kernels are `[kh, kw, in, out]` (conv) or `[in, out]` (dense)."""
    t = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))
    if t.ndim == 2:  # dense
        return t.T.contiguous()
    if target.ndim == 4:  # Conv2d [out, in, kh, kw]
        return t.permute(3, 2, 0, 1).contiguous()
    # Mid-end: a TF conv2d [7, channels, 1, out] sliding over time is our Conv1d [out, channels, 7].
    return t[:, :, 0, :].permute(2, 1, 0).contiguous()


def state_dict_from_tf(variables: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """Every TF variable used exactly once, every torch parameter and buffer filled; shapes checked."""
    target = Musicnn().state_dict()
    out: dict[str, torch.Tensor] = {}
    used = set()
    for tf_layer, module in LAYERS:
        for tf_var, array in variables.items():
            layer, _, leaf = tf_var.rpartition("/")
            if layer.split("/")[-1] != tf_layer:
                continue
            if leaf == "kernel":
                name = f"{module}.weight"
                value = _kernel(array, target[name])
            elif leaf == "bias":  # conv and dense; TF batch norm calls its shift "beta"
                name = f"{module}.bias"
                value = torch.from_numpy(np.asarray(array, dtype=np.float32))
            else:
                name = f"{module}.{BN_NAMES[leaf]}"
                value = torch.from_numpy(np.asarray(array, dtype=np.float32)).reshape(target[name].shape)
            if value.shape != target[name].shape:
                raise ValueError(f"{tf_var} {tuple(array.shape)} does not fit {name} {tuple(target[name].shape)}")
            out[name] = value
            used.add(tf_var)
    for name, value in target.items():
        if name.endswith("num_batches_tracked"):
            out[name] = value
    missing = sorted(set(target) - set(out))
    unused = sorted(set(variables) - used)
    if missing or unused:
        raise ValueError(f"conversion incomplete: torch missing {missing}, TF unused {unused}")
    return out


def read_tf_export(path: Path) -> dict[str, np.ndarray]:
    with np.load(path) as data:
        return {key.split("|", 1)[1]: data[key] for key in data.files}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def convert(export: Path, wheel: Path, out: Path = WEIGHTS_PATH) -> int:
    """Write the converted state dict and its provenance to `out`; returns the number of weights."""
    state = state_dict_from_tf(read_tf_export(export))
    count = sum(v.numel() for k, v in state.items() if not k.endswith("num_batches_tracked"))
    provenance = {
        "model": "MSD_musicnn (Pons & Serra, ISMIR 2019 LBD), trained on the Million Song Dataset top-50 tags",
        "source": wheel.name,
        "source_sha256": sha256(wheel),
        "checkpoint_path_in_wheel": "musicnn/MSD_musicnn/",
        "licence": "ISC, Copyright (c) Music Technology Group, Universitat Pompeu Fabra 2019",
        "weights": count,
        "converted_by": "python -m genre_core convert-musicnn (see models/MUSICNN_NOTICE.md)",
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": state, "provenance": provenance}, out)
    return count


def load_pretrained(path: Path = WEIGHTS_PATH) -> dict[str, torch.Tensor]:
    """The converted state dict of `Musicnn` (weights only; never runs code)."""
    return torch.load(path, map_location="cpu", weights_only=True)["state_dict"]
