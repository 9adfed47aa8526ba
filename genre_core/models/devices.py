"""Which device runs a model, decided without importing torch unless a GPU can be there.

`auto` means CUDA (or Apple MPS) when torch is installed and the machine shows a GPU,
else the CPU. Whether a GPU is there is read from the driver's device files first,
so a CPU machine (and the torch-free serve install) never pays torch's ~1 s import
to learn that it has none; where those files exist, torch decides as it always did.
"""

from __future__ import annotations

import importlib.util
import platform
import shutil
import sys
from pathlib import Path

#: Device files an NVIDIA (or ROCm, or WSL) driver creates; one of them is there wherever CUDA can run.
GPU_NODES = ("/dev/nvidiactl", "/dev/nvidia0", "/proc/driver/nvidia/version", "/dev/kfd", "/dev/dxg")


def torch_installed() -> bool:
    return importlib.util.find_spec("torch") is not None


def gpu_may_exist() -> bool:
    """True where torch could find CUDA or MPS: a GPU driver's files, nvidia-smi, or an Apple silicon Mac."""
    if sys.platform == "darwin":
        return platform.machine() == "arm64"
    return any(Path(node).exists() for node in GPU_NODES) or shutil.which("nvidia-smi") is not None


def resolve_device(device: str = "auto") -> str:
    """'cpu', 'cuda' or 'mps' for a requested device; torch is imported only to confirm a GPU."""
    if device == "cpu" or (device == "auto" and not (torch_installed() and gpu_may_exist())):
        return "cpu"
    if not torch_installed():
        raise ValueError(
            f"{device.upper()} needs PyTorch, and this is the torch-free serve install (CPU only); "
            "use --device cpu, or install requirements.txt for a GPU."
        )
    from .torch_network import pick_device

    return pick_device(device).type
