"""`train-coarse-front`: fit the coarse front end (`models.coarse_musicnn`) to the shipped front end's output.

Built from the shipped kernels by summing rows, the coarse front end is only an approximation (unfitted, it
changes a third of the genre decisions: docs/performance.md). Here its five convolutions and their batch
norms' scale and shift learn to reproduce what the shipped network makes of train windows, read from the
transfer trainer's front-end cache (the windows at the recordings' own level, so no gained copy): the
front end's output (mean squared error over channels standardised by the target's own spread), and through
the untouched rest of the network the window's genre probabilities (KL divergence) and MSD tags (binary
cross-entropy against the shipped tag probabilities). Valid windows (the app's ten spread windows of some
valid recordings) report the same loss and the share of windows whose top genre differs, before and
after. The test split is never read.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..classifier import GenreClassifier
from ..errors import GenreCoreError
from ..models.checkpoint import Checkpoint, load_checkpoint
from ..models.coarse_musicnn import CoarseMusicnn
from ..models.musicnn import MusicnnCRNN
from .data import read_manifest
from .frontend_cache import DEFAULT_CACHE, frontend_cache
from .transfer import TransferSettings, new_model, transfer_config

log = logging.getLogger("genre_core.train")


@dataclass(frozen=True)
class CoarseSettings:
    """How the coarse front end is fitted (stored beside its weights)."""

    windows: int = 3000
    valid_recordings: int = 60
    epochs: int = 3
    batch_size: int = 32
    learning_rate: float = 1e-4
    seed: int = 0


def paired_windows(
    recs: list, extractor: GenreClassifier, strategy: str, hop_s: float, gain_db: float, seed: int, cache_dir: Path
) -> tuple[np.ndarray, np.ndarray]:
    """(model input, shipped front-end output) of every window at its recording's own level."""
    inputs, targets = [], []
    fronts = frontend_cache(recs, extractor, strategy, hop_s, gain_db, cache_dir, seed)
    for rec, front in zip(recs, fronts, strict=True):
        if not len(front):
            continue
        try:
            features = extractor.extract(rec.path, strategy, hop_s=hop_s)[2]
        except GenreCoreError:
            continue
        own_level = slice(None, None, 2) if gain_db > 0 else slice(None)  # odd windows were cached at a gain
        inputs.append(features[own_level])
        targets.append(front[own_level])
    return np.concatenate(inputs), np.concatenate(targets)


def network_outputs(model: MusicnnCRNN, front: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Genre and MSD tag logits from a front-end output, through the shipped mid end, back end and heads."""
    embed = model.musicnn.midend(front)
    return model.forward_embed(embed), model.musicnn.tag_logits(embed)


def distillation_loss(
    coarse: MusicnnCRNN, shipped: MusicnnCRNN, x: torch.Tensor, target_front: torch.Tensor, scale: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(the loss, whether each window's top genre differs from the shipped network's)."""
    front = coarse.musicnn.frontend(x)
    genres, tags = network_outputs(coarse, front)
    with torch.no_grad():
        target_genres, target_tags = network_outputs(shipped, target_front)
    front_error = (((front - target_front) / scale[:, None]) ** 2).mean()
    genre_error = F.kl_div(
        F.log_softmax(genres, -1), F.log_softmax(target_genres, -1), log_target=True, reduction="batchmean"
    )
    tag_error = F.binary_cross_entropy_with_logits(tags, torch.sigmoid(target_tags))
    tag_error = tag_error - F.binary_cross_entropy_with_logits(target_tags, torch.sigmoid(target_tags))  # 0 at a match
    return front_error + genre_error + tag_error, genres.argmax(-1) != target_genres.argmax(-1)


@torch.inference_mode()
def valid_figures(
    coarse: MusicnnCRNN, shipped: MusicnnCRNN, x: np.ndarray, y: np.ndarray, scale: torch.Tensor, batch: int = 64
) -> dict[str, float]:
    total, changed = 0.0, 0
    for start in range(0, len(x), batch):
        xb, yb = torch.from_numpy(x[start : start + batch]), torch.from_numpy(y[start : start + batch]).float()
        loss, differs = distillation_loss(coarse, shipped, xb, yb, scale)
        total, changed = total + float(loss) * len(xb), changed + int(differs.sum())
    return {"valid_loss": total / len(x), "valid_windows_changed": changed / len(x)}


def train_coarse_front(
    manifest: str | Path,
    out: str | Path,
    model: str | None = None,
    settings: CoarseSettings = CoarseSettings(),
    cache_dir: Path = DEFAULT_CACHE,
) -> dict[str, Any]:
    """Fit the coarse front end of `model` (the default) and save it to `out` with its settings and errors."""
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    config = transfer_config()
    extractor = GenreClassifier(Checkpoint(new_model(config), config), device="cpu")  # the cache's own key
    s = TransferSettings()
    recs = read_manifest(manifest, config.labels)
    train = [r for r in recs if r.split == "train"]
    valid = [r for r in recs if r.split == "valid"]
    valid = [valid[i] for i in sorted(rng.choice(len(valid), settings.valid_recordings, replace=False))]
    x, y = paired_windows(train, extractor, "timeline", s.train_hop_s, s.gain_db, s.seed, cache_dir)
    picked = np.sort(rng.choice(len(x), min(settings.windows, len(x)), replace=False))
    x, y = x[picked], y[picked]
    vx, vy = paired_windows(valid, extractor, "spread", 3.0, 0.0, s.seed, cache_dir)
    scale = torch.from_numpy(y.astype(np.float32).std(axis=(0, 2)) + 1e-3)
    shipped = load_checkpoint(model).model.eval()  # batch norms on their running statistics, dropout off
    coarse = copy.deepcopy(shipped)
    coarse.musicnn = CoarseMusicnn.from_musicnn(shipped.musicnn)
    for p in (*shipped.parameters(), *coarse.parameters()):
        p.requires_grad_(False)
    trainable = coarse.musicnn.front_parameters()
    for p in trainable:
        p.requires_grad_(True)
    optimiser = torch.optim.Adam(trainable, lr=settings.learning_rate)
    history = [{"epoch": 0, **valid_figures(coarse, shipped, vx, vy, scale)}]
    log.info("coarse front end, before fitting: %s", history[0])
    started = time.time()
    for epoch in range(1, settings.epochs + 1):
        order, losses = rng.permutation(len(x)), []
        for start in range(0, len(order), settings.batch_size):
            idx = order[start : start + settings.batch_size]
            loss, _ = distillation_loss(
                coarse, shipped, torch.from_numpy(x[idx]), torch.from_numpy(y[idx]).float(), scale
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            losses.append(float(loss.detach()))
        history.append(
            {"epoch": epoch, "train_loss": float(np.mean(losses)), **valid_figures(coarse, shipped, vx, vy, scale)}
        )
        log.info("%s (%.1f min)", history[-1], (time.time() - started) / 60)
    result = {
        "front_end": coarse.musicnn.state_dict(),
        "settings": asdict(settings),
        "windows": {"train": len(x), "valid": len(vx)},
        "history": history,
    }
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    torch.save(result, out)
    return {k: v for k, v in result.items() if k != "front_end"}
