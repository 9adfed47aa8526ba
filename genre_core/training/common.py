"""What every training recipe shares: run setup, seeds, the data summary, soft targets and their loss."""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .data import Recording, read_manifest

log = logging.getLogger("genre_core.train")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def start_run(
    manifest: str | Path, out: Path, labels: tuple[str, ...], seed: int, threads: int
) -> tuple[list[Recording], list[Recording], list[Recording]]:
    """What every training run does first: seed, threads, a log beside `out`, the manifest and its splits."""
    seed_everything(seed)
    if threads:
        torch.set_num_threads(threads)
    _attach_log_file(out.with_suffix(".log"))
    recs = read_manifest(manifest, labels)
    train_recs = [r for r in recs if r.split == "train"]
    valid_recs = [r for r in recs if r.split == "valid"]
    log.info("train %d recordings, valid %d", len(train_recs), len(valid_recs))
    return recs, train_recs, valid_recs


def data_summary(recs: list[Recording]) -> dict[str, Any]:
    """Recordings per split and genre: what a checkpoint records of the data it learned from."""
    counts: dict[str, dict[str, int]] = {}
    for r in recs:
        counts.setdefault(r.split, {}).setdefault(r.genre, 0)
        counts[r.split][r.genre] += 1
    return {"recordings_per_split_and_genre": counts, "manifest_rows": len(recs)}


def _attach_log_file(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, mode="w")
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
    log.addHandler(handler)
    log.addHandler(logging.StreamHandler())
    log.setLevel(logging.INFO)


def smoothed_targets(classes: np.ndarray, n_classes: int, smoothing: float) -> torch.Tensor:
    """One-hot targets with label smoothing, as floats mixup can blend."""
    y = F.one_hot(torch.from_numpy(classes), n_classes).float()
    return y * (1 - smoothing) + smoothing / n_classes


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against soft (smoothed or mixed) targets, averaged over the batch."""
    return torch.sum(-targets * F.log_softmax(logits, dim=-1), dim=-1).mean()
