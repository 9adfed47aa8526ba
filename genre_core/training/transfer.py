"""Train the transfer CRNN: frozen musicnn front end, cached once; the rest trained on our data.

1. Every window is cut, decoded and featurised by the app's own path
   (`GenreClassifier.extract`), run once through the frozen musicnn front end,
   and its `(561, 187)` output stored as float16 (train: a window every
   `train_hop_s`; valid: the app's ten spread windows).
2. Each epoch draws class-balanced windows and trains the mid end (when
   `finetune_midend`, at a lower learning rate, batch-norm statistics frozen)
   and the GRU head, with gain changes, mixup and step masking as augmentation.
3. The epoch with the best track-level valid macro-F1 is kept.

Gain augmentation works on the cached features exactly: musicnn's input is
log10(1 + C·P), so a gain g maps it to log10(1 + g²·(10^x − 1)) before the front end.
Because the front end is not linear, gain is rendered into the cache: half the
training windows are cached at a random gain of ±`gain_db`.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import f1_score
from tqdm import tqdm

from ..checkpoint import Checkpoint, build_model, save_checkpoint
from ..classifier import GenreClassifier
from ..config import GenreConfig, ModelConfig, musicnn_features
from ..errors import GenreCoreError
from ..model import count_parameters
from ..musicnn import MusicnnCRNN
from ..pretrained.convert import WEIGHTS_PATH, load_pretrained, sha256
from .data import Recording, content_key
from .train import _data_summary, smoothed_targets, soft_cross_entropy, start_run

log = logging.getLogger("genre_core.train")
DEFAULT_CACHE = Path(__file__).resolve().parents[2] / ".cache" / "musicnn"


@dataclass
class TransferSettings:
    """Knobs of one transfer run; stored in the checkpoint beside the results."""

    epochs: int = 30
    windows_per_genre: int = 500
    batch_size: int = 64
    lr: float = 1e-3
    midend_lr: float = 1e-4
    finetune_midend: bool = True
    weight_decay: float = 1e-2
    label_smoothing: float = 0.05
    mixup_alpha: float = 0.2
    frame_masks: int = 2
    frame_mask_width: int = 24
    train_hop_s: float = 1.5
    gain_db: float = 6.0
    max_minutes: float = 30.0
    seed: int = 1234
    threads: int = 0


def transfer_config(embed_dim: int = 128, gru_hidden: int = 128, step_pool: int = 4) -> GenreConfig:
    model = ModelConfig(
        family="musicnn_crnn",
        gru_hidden=gru_hidden,
        gru_layers=1,
        dropout=0.3,
        step_pool=step_pool,
        embed_dim=embed_dim,
    )
    return GenreConfig(features=musicnn_features(), model=model)


def new_model(config: GenreConfig) -> MusicnnCRNN:
    """A transfer CRNN whose musicnn part holds the converted MSD weights."""
    model = build_model(config)
    weights = load_pretrained()
    model.musicnn.load_state_dict(weights)
    model.musicnn_tags.load_state_dict({k: v for k, v in weights.items() if k in model.musicnn_tags.state_dict()})
    return model


def apply_gain(features: torch.Tensor, gain_db: torch.Tensor) -> torch.Tensor:
    """log10(1 + C·P) of windows played `gain_db` louder, exactly: C·P = 10^x − 1 scales by 10^(g/10)."""
    scaled = torch.expm1(features * np.log(10.0)).clamp(min=0.0) * (10.0 ** (gain_db / 10.0)).reshape(-1, 1, 1)
    return torch.log1p(scaled) / np.log(10.0)


@torch.inference_mode()
def frontend_cache(
    recs: list[Recording],
    classifier: GenreClassifier,
    strategy: str,
    hop_s: float,
    gain_db: float,
    cache_dir: Path,
    seed: int,
) -> list[np.ndarray]:
    """Per recording `(windows, 561, 187)` float16 front-end outputs, computed at most once."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    settings = {
        "features": asdict(classifier.config.features),
        "strategy": strategy,
        "hop": hop_s,
        "gain": gain_db,
        "seed": seed,
        "weights": sha256(WEIGHTS_PATH),
    }
    model: MusicnnCRNN = classifier.model
    out = []
    for i, rec in enumerate(tqdm(recs, desc=f"musicnn front end ({strategy})")):
        target = cache_dir / f"{content_key(rec.path, settings)}.npy"
        if not target.exists():
            try:
                features = classifier.extract(rec.path, strategy, hop_s=hop_s)[2]
            except GenreCoreError as exc:  # silent or unreadable: nothing to learn from
                log.info("skipping %s: %s", rec.path.name, exc)
                features = torch.zeros(0, 96, 187)
            if gain_db > 0 and len(features):
                rng = np.random.default_rng([seed, i])
                gains = torch.from_numpy(rng.uniform(-gain_db, gain_db, len(features)).astype(np.float32))
                gains[::2] = 0.0  # every other window keeps the original level
                features = apply_gain(features, gains)
            front = model.musicnn.frontend(features) if len(features) else torch.zeros(0, 561, 187)
            tmp = target.with_suffix(".tmp.npy")
            np.save(tmp, front.numpy().astype(np.float16))
            tmp.rename(target)
        out.append(np.load(target))
    return out


def head_from_front(model: MusicnnCRNN, front: torch.Tensor) -> torch.Tensor:
    """Mid end, back end and genre paths on cached front-end outputs."""
    return model.forward_embed(model.musicnn.midend(front))


def mask_frames(front: torch.Tensor, masks: int, width: int, rng: np.random.Generator) -> torch.Tensor:
    """SpecAugment's time masks, on the front-end output: spans of up to `width` frames set to the window's mean."""
    front = front.clone()
    frames = front.shape[-1]
    for i in range(front.shape[0]):
        for _ in range(masks):
            w = int(rng.integers(0, width + 1))
            t0 = int(rng.integers(0, frames - w + 1))
            front[i, :, t0 : t0 + w] = front[i].mean(dim=1, keepdim=True)
    return front


@torch.inference_mode()
def input_band_mean(recs: list[Recording], classifier: GenreClassifier) -> torch.Tensor:
    """Mean model input per mel band over the recordings' spread windows: the occlusion map's "nothing special"."""
    total = torch.zeros(classifier.config.features.n_mels)
    count = 0
    for rec in recs:
        try:
            features = classifier.extract(rec.path, "spread")[2]
        except GenreCoreError:
            continue
        total += features.sum(dim=(0, 2))
        count += features.shape[0] * features.shape[2]
    return total / max(count, 1)


@torch.inference_mode()
def track_probabilities(model: MusicnnCRNN, fronts: list[np.ndarray], batch: int = 128) -> np.ndarray:
    model.eval()
    out = []
    for front in fronts:
        probs = [
            torch.softmax(head_from_front(model, torch.from_numpy(front[s : s + batch]).float()), dim=-1)
            for s in range(0, len(front), batch)
        ]
        out.append(torch.cat(probs).mean(dim=0).numpy())
    return np.stack(out)


def embedding_statistics(model: MusicnnCRNN, fronts: np.ndarray, batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std of each musicnn feature over the training windows' steps (the GRU path's normalisation)."""
    total, square, count = torch.zeros(753), torch.zeros(753), 0
    with torch.inference_mode():
        for s in range(0, len(fronts), batch):
            steps = model.steps(model.musicnn.midend(torch.from_numpy(fronts[s : s + batch]).float()))
            total += steps.sum(dim=(0, 1))
            square += steps.square().sum(dim=(0, 1))
            count += steps.shape[0] * steps.shape[1]
    mean = total / count
    return mean, (square / count - mean.square()).clamp(min=0).sqrt()


def train_transfer(
    manifest: str | Path,
    out: str | Path,
    config: GenreConfig | None = None,
    settings: TransferSettings | None = None,
    cache_dir: Path = DEFAULT_CACHE,
) -> dict[str, Any]:
    """Train, keep the best valid macro-F1 weights, save a checkpoint at `out`."""
    config = config or transfer_config()
    s = settings or TransferSettings()
    out = Path(out)
    started = time.time()
    labels = config.labels
    recs, train_recs, valid_recs = start_run(manifest, out, labels, s.seed, s.threads)

    model = new_model(config)
    extractor = GenreClassifier(Checkpoint(model, config), device="cpu")
    train_fronts = frontend_cache(train_recs, extractor, "timeline", s.train_hop_s, s.gain_db, cache_dir, s.seed)
    valid_fronts = frontend_cache(valid_recs, extractor, "spread", 3.0, 0.0, cache_dir, s.seed)
    log.info("front-end cache ready after %.1f min", (time.time() - started) / 60)
    x_train = np.concatenate(train_fronts)
    y_train = np.concatenate(
        [np.full(len(f), labels.index(r.genre)) for f, r in zip(train_fronts, train_recs, strict=True)]
    )
    valid_y = np.asarray([labels.index(r.genre) for r in valid_recs])
    log.info("%d training windows", len(x_train))

    model.eval()
    mean, std = embedding_statistics(model, x_train)
    model.set_normalisation(mean, std)
    model.band_mean.copy_(input_band_mean(train_recs[::8], extractor))
    trainable = [p for n, p in model.named_parameters() if not n.startswith(("musicnn.", "musicnn_tags."))]
    # Fine-tuned at a low rate: the mid end and the pretrained back end's dense layer (the summary path's input).
    mid = [
        p
        for n, p in model.named_parameters()
        if n.startswith(("musicnn.mid.", "musicnn.mid_bn.", "musicnn.dense.", "musicnn.dense_bn."))
    ]
    for p in [*model.musicnn.parameters(), *model.musicnn_tags.parameters()]:
        p.requires_grad_(False)
    groups = [{"params": trainable, "lr": s.lr}]
    if s.finetune_midend:
        for p in mid:
            p.requires_grad_(True)
        groups.append({"params": mid, "lr": s.midend_lr})
    optimiser = torch.optim.AdamW(groups, weight_decay=s.weight_decay)
    steps_per_epoch = int(np.ceil(s.windows_per_genre * len(labels) / s.batch_size))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=[g["lr"] for g in groups], total_steps=s.epochs * steps_per_epoch, pct_start=0.1
    )
    log.info(
        "model %s: %d trainable parameters", config.model, sum(p.numel() for p in model.parameters() if p.requires_grad)
    )
    rng = np.random.default_rng(s.seed)
    by_class = [np.flatnonzero(y_train == c) for c in range(len(labels))]

    best: dict[str, Any] = {"f1": -1.0, "epoch": -1, "state": None}
    history: list[dict[str, float]] = []
    for epoch in range(1, s.epochs + 1):
        model.train()
        model.musicnn.eval()  # BN statistics stay the pretrained ones
        model.musicnn_tags.eval()
        order = np.concatenate([rng.choice(idx, s.windows_per_genre) for idx in by_class if idx.size])
        rng.shuffle(order)
        losses = []
        for start in range(0, len(order), s.batch_size):
            idx = order[start : start + s.batch_size]
            x = torch.from_numpy(x_train[idx]).float()
            if s.frame_masks:
                x = mask_frames(x, s.frame_masks, s.frame_mask_width, rng)
            y = smoothed_targets(y_train[idx], len(labels), s.label_smoothing)
            if s.mixup_alpha > 0:
                lam = float(rng.beta(s.mixup_alpha, s.mixup_alpha))
                perm = torch.from_numpy(rng.permutation(len(idx)))
                x = lam * x + (1 - lam) * x[perm]
                y = lam * y + (1 - lam) * y[perm]
            loss = soft_cross_entropy(head_from_front(model, x), y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if scheduler.last_epoch + 1 < scheduler.total_steps:
                scheduler.step()
            losses.append(loss.item())
        pred = track_probabilities(model, valid_fronts).argmax(1)
        acc, f1 = float((pred == valid_y).mean()), float(f1_score(valid_y, pred, average="macro"))
        row = {
            "epoch": epoch,
            "loss": float(np.mean(losses)),
            "valid_acc": acc,
            "valid_macro_f1": f1,
            "lr": optimiser.param_groups[0]["lr"],
            "minutes": (time.time() - started) / 60,
        }
        history.append(row)
        log.info(json.dumps(row))
        if f1 > best["f1"]:
            best = {"f1": f1, "epoch": epoch, "state": copy.deepcopy(model.state_dict())}
        if (time.time() - started) / 60 > s.max_minutes:
            log.info("stopping: time budget of %.0f min used", s.max_minutes)
            break

    model.load_state_dict(best["state"])
    model.eval()
    minutes = (time.time() - started) / 60
    summary = {
        "recipe": "transfer",
        "settings": asdict(s),
        "best_epoch": best["epoch"],
        "best_valid_macro_f1": best["f1"],
        "epochs_run": len(history),
        "wall_minutes": round(minutes, 2),
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "parameters": count_parameters(model),
        "trainable_parameters": sum(p.numel() for p in trainable)
        + (sum(p.numel() for p in mid) if s.finetune_midend else 0),
        "training_windows": int(len(x_train)),
        "pretrained": {"weights": WEIGHTS_PATH.name, "sha256": sha256(WEIGHTS_PATH)},
        "history": history,
        "data": _data_summary(recs),
    }
    save_checkpoint(out, model, config, metrics={}, training=summary)
    log.info("saved %s (best epoch %d, valid macro-F1 %.3f, %.1f min)", out, best["epoch"], best["f1"], minutes)
    return summary
