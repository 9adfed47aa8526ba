"""Train the CRNN on cached log-mels: balanced crops, SpecAugment, mixup.

Each epoch draws the same number of random 3-s crops from every genre
(balanced sampling, so disco counts as much as rock), and model selection
uses track-level macro-F1 on the valid split, computed over the same
window plan the app uses.
"""

from __future__ import annotations

import copy
import json
import logging
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import f1_score
from tqdm import tqdm

from ..config import GenreConfig
from ..features import relative_db
from ..models.checkpoint import save_checkpoint
from ..models.crnn import CRNN, count_parameters
from ..models.families import build_model
from ..models.torch_network import pick_device
from ..windows import plan_windows
from .common import data_summary, smoothed_targets, soft_cross_entropy, start_run
from .data import DEFAULT_CACHE, Recording, build_cache
from .distill import teacher_windows

log = logging.getLogger("genre_core.train")


@dataclass
class TrainSettings:
    """Knobs of one run; stored in the checkpoint beside the results."""

    epochs: int = 60
    crops_per_genre: int = 400
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 1e-2
    label_smoothing: float = 0.05
    mixup_alpha: float = 0.2
    spec_augment: bool = True
    freq_masks: int = 2
    freq_mask_width: int = 16
    time_masks: int = 2
    time_mask_width: int = 20
    speed_factors: tuple[float, ...] = (0.944, 1.059)
    stretch_factors: tuple[float, ...] = ()  # (0.94, 1.06) helped in 19-min runs; see the model card
    ema_decay: float = 0.0  # e.g. 0.995 (per step); 0 selects and ships the raw weights
    track_raw: bool = False  # also score the raw weights each epoch (costs one more valid pass)
    patience: int = 10
    lr_patience: int = 5
    max_minutes: float = 45.0
    seed: int = 1234
    threads: int = 0  # 0: leave torch's default
    #: Distillation: a teacher model (name or path) whose window probabilities are blended into the targets.
    teacher: str = ""
    #: The teacher's share of each target; the rest is the label-smoothed genre.
    distill_weight: float = 0.7


class WeightAverage:
    """Exponential moving average of the weights and float buffers (BN statistics); counters are copied.

    Valid macro-F1 of the raw weights swings by +-0.05 from epoch to epoch on
    227 recordings; the average is smoother, so selecting on it is less luck.
    """

    def __init__(self, model: CRNN, decay: float) -> None:
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, model: CRNN) -> None:
        live = model.state_dict()
        for name, avg in self.model.state_dict().items():
            if avg.dtype.is_floating_point:
                avg.lerp_(live[name], 1.0 - self.decay)
            else:
                avg.copy_(live[name])


class CropSampler:
    """Balanced random crops from whole-recording spectrograms."""

    def __init__(
        self,
        spectra: list[np.ndarray],
        targets: np.ndarray,
        n_classes: int,
        frames: int,
        rng: np.random.Generator,
    ) -> None:
        self.spectra = spectra
        self.targets = targets
        self.frames = frames
        self.rng = rng
        self.by_class = [np.flatnonzero(targets == c) for c in range(n_classes)]

    def epoch(self, per_class: int) -> np.ndarray:
        picks = [self.rng.choice(idx, per_class) for idx in self.by_class if idx.size]
        order = np.concatenate(picks)
        self.rng.shuffle(order)
        return order

    def crop_at(self, index: int) -> tuple[np.ndarray, int]:
        """A random crop of recording `index` and its first frame."""
        spec = self.spectra[index]
        start = int(self.rng.integers(0, spec.shape[1] - self.frames + 1))
        return spec[:, start : start + self.frames], start


def spec_augment(batch: torch.Tensor, s: TrainSettings, fill: torch.Tensor) -> torch.Tensor:
    """Mask random mel bands and time spans with the band mean (zero after normalising)."""
    batch = batch.clone()
    n, mels, frames = batch.shape
    for i in range(n):
        for _ in range(s.freq_masks):
            w = random.randint(0, s.freq_mask_width)
            f0 = random.randint(0, mels - w)
            batch[i, f0 : f0 + w, :] = fill[f0 : f0 + w, None]
        for _ in range(s.time_masks):
            w = random.randint(0, s.time_mask_width)
            t0 = random.randint(0, frames - w)
            batch[i, :, t0 : t0 + w] = fill[:, None]
    return batch


def distilled_targets(hard: torch.Tensor, teacher: torch.Tensor, weight: float) -> torch.Tensor:
    """`weight` of the teacher's probabilities plus the hard target; the hard one alone where the teacher has none."""
    blended = weight * teacher + (1.0 - weight) * hard
    return torch.where(torch.isnan(teacher), hard, blended)


def band_statistics(spectra: list[np.ndarray], frames: int, top_db: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-mel-band mean/std of relative-dB windows tiled over each recording."""
    blocks = []
    for spec in spectra:
        for start in range(0, spec.shape[1] - frames + 1, frames):
            blocks.append(spec[:, start : start + frames])
    x = torch.from_numpy(relative_db(np.stack(blocks).astype(np.float32), top_db))
    return x.mean(dim=(0, 2)), x.std(dim=(0, 2))


def window_batch(spec: np.ndarray, duration_s: float, config: GenreConfig, strategy: str) -> torch.Tensor:
    """The inference window plan, cut from a cached whole-recording spectrogram."""
    cfg = config.features
    frames = cfg.window_frames
    plan = plan_windows(max(duration_s, cfg.min_seconds), cfg, strategy)
    starts = np.round(plan.starts_s * cfg.sample_rate / cfg.hop_length).astype(int)
    starts = np.clip(starts, 0, spec.shape[1] - frames)
    crops = np.stack([spec[:, s : s + frames] for s in starts]).astype(np.float32)
    return torch.from_numpy(relative_db(crops, cfg.top_db))


def track_probabilities(
    model: CRNN,
    spectra: list[np.ndarray],
    recs: list[Recording],
    config: GenreConfig,
    strategy: str,
    device: torch.device,
) -> np.ndarray:
    """Mean-aggregated window probabilities per recording, from the cache."""
    model.eval()
    out = []
    with torch.inference_mode():
        for spec, rec in zip(spectra, recs, strict=True):
            x = window_batch(spec, rec.duration_s, config, strategy).to(device)
            out.append(torch.softmax(model(x), dim=-1).mean(dim=0).cpu().numpy())
    return np.stack(out)


def train(
    manifest: str | Path,
    out: str | Path,
    config: GenreConfig | None = None,
    settings: TrainSettings | None = None,
    cache_dir: Path = DEFAULT_CACHE,
    device: str = "auto",
) -> dict[str, Any]:
    """Train, keep the best valid macro-F1 weights, save a checkpoint at `out`."""
    config = config or GenreConfig()
    s = settings or TrainSettings()
    dev = pick_device(device)
    out = Path(out)
    started = time.time()
    labels = config.labels
    recs, train_recs, valid_recs = start_run(manifest, out, labels, s.seed, s.threads)

    train_specs = build_cache(train_recs, config.features, cache_dir)
    valid_specs = build_cache(valid_recs, config.features, cache_dir)
    specs, targets = list(train_specs), [labels.index(r.genre) for r in train_recs]
    time_scale = [1.0] * len(train_recs)  # original seconds per second of each spectrogram
    variants = [{"speed": f} for f in s.speed_factors] + [{"stretch": f} for f in s.stretch_factors]
    for variant in variants:  # rendered copies of the train split, one list per factor
        specs += build_cache(train_recs, config.features, cache_dir, **variant)
        targets += [labels.index(r.genre) for r in train_recs]
        time_scale += [float(next(iter(variant.values())))] * len(train_recs)
    teacher = None
    if s.teacher:
        teacher = teacher_windows(train_recs, s.teacher, labels)
    targets_arr = np.asarray(targets)
    valid_y = np.asarray([labels.index(r.genre) for r in valid_recs])

    model = build_model(config).to(dev)
    mean, std = band_statistics(train_specs, config.features.window_frames, config.features.top_db)
    model.set_normalisation(mean.to(dev), std.to(dev))
    log.info("model %s: %d parameters", config.model, count_parameters(model))

    optimiser = torch.optim.AdamW(model.parameters(), lr=s.lr, weight_decay=s.weight_decay)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, mode="max", factor=0.5, patience=s.lr_patience)
    rng = np.random.default_rng(s.seed)
    sampler = CropSampler(specs, targets_arr, len(labels), config.features.window_frames, rng)
    fill = model.band_mean.detach().cpu()
    average = WeightAverage(model, s.ema_decay) if s.ema_decay > 0 else None
    selected = average.model if average else model

    def valid_scores(weights: CRNN) -> tuple[float, float]:
        """Track-level accuracy and macro-F1 on valid, over the app's window plan."""
        pred = track_probabilities(weights, valid_specs, valid_recs, config, "spread", dev).argmax(1)
        return float((pred == valid_y).mean()), float(f1_score(valid_y, pred, average="macro"))

    best = {"f1": -1.0, "epoch": -1, "state": None}
    history: list[dict[str, float]] = []
    for epoch in range(1, s.epochs + 1):
        model.train()
        order = sampler.epoch(s.crops_per_genre)
        losses = []
        bar = tqdm(range(0, len(order), s.batch_size), desc=f"epoch {epoch}", leave=False)
        for start in bar:
            idx = order[start : start + s.batch_size]
            crops = [sampler.crop_at(i) for i in idx]
            x = torch.from_numpy(
                relative_db(np.stack([c for c, _ in crops]).astype(np.float32), config.features.top_db)
            )
            if s.spec_augment:
                x = spec_augment(x, s, fill)
            y = smoothed_targets(targets_arr[idx], len(labels), s.label_smoothing)
            if teacher is not None:
                frame_s = config.features.hop_length / config.features.sample_rate
                soft = [
                    teacher.at(i % len(train_recs), first * frame_s * time_scale[i])
                    for i, (_, first) in zip(idx, crops, strict=True)
                ]
                y = distilled_targets(y, torch.from_numpy(np.stack(soft)), s.distill_weight)
            if s.mixup_alpha > 0:
                lam = float(np.random.beta(s.mixup_alpha, s.mixup_alpha))
                perm = torch.randperm(x.shape[0])
                x = lam * x + (1 - lam) * x[perm]
                y = lam * y + (1 - lam) * y[perm]
            x, y = x.to(dev), y.to(dev)
            loss = soft_cross_entropy(model(x), y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if average:
                average.update(model)
            losses.append(loss.item())
            bar.set_postfix(loss=f"{np.mean(losses):.3f}")
        acc, f1 = valid_scores(selected)
        scheduler.step(f1)
        row = {"epoch": epoch, "loss": float(np.mean(losses)), "valid_acc": acc, "valid_macro_f1": f1}
        if average and s.track_raw:  # to measure what averaging buys
            row["raw_valid_acc"], row["raw_valid_macro_f1"] = valid_scores(model)
        row |= {
            "lr": optimiser.param_groups[0]["lr"],
            "minutes": (time.time() - started) / 60,
        }
        history.append(row)
        log.info(json.dumps(row))
        if f1 > best["f1"]:
            best = {"f1": f1, "epoch": epoch, "state": copy.deepcopy(selected.state_dict())}
        if epoch - best["epoch"] >= s.patience:
            log.info("early stop: no valid macro-F1 gain for %d epochs", s.patience)
            break
        if (time.time() - started) / 60 > s.max_minutes:
            log.info("stopping: time budget of %.0f min used", s.max_minutes)
            break

    model.load_state_dict(best["state"])
    minutes = (time.time() - started) / 60
    summary = {
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(s).items()},
        "best_epoch": best["epoch"],
        "best_valid_macro_f1": best["f1"],
        "epochs_run": len(history),
        "wall_minutes": round(minutes, 2),
        "device": str(dev),
        "threads": torch.get_num_threads(),
        "parameters": count_parameters(model),
        "history": history,
        "data": data_summary(recs),
    }
    save_checkpoint(out, model.cpu(), config, metrics={}, training=summary)
    log.info("saved %s (best epoch %d, valid macro-F1 %.3f, %.1f min)", out, best["epoch"], best["f1"], minutes)
    return summary
