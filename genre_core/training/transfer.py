"""Train the transfer CRNN: frozen musicnn front end, cached once; the rest trained on our data.

1. Every window's frozen musicnn front-end output is cached (`frontend_cache.py`;
   train: a window every `train_hop_s`; valid: the app's ten spread windows) and
   gathered into a `WindowBank` (`bank.py`).
2. Each epoch draws class-balanced windows and trains the mid end (when
   `finetune_midend`, at a lower learning rate, batch-norm statistics frozen)
   and the GRU head, with gain changes, mixup and step masking as augmentation.
3. The number of epochs and the design come from leave-one-source-out
   validation (`holdout.py`): the shipped run trains that many epochs and
   keeps the last; `select="best_valid"` keeps the best valid epoch instead.

A run whose mid end stays frozen reads the mid end's output from the bank, so it
trains only the new layers and takes seconds per epoch instead of a minute.
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
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ..classifier import GenreClassifier
from ..config import GenreConfig, ModelConfig, musicnn_features
from ..models.checkpoint import Checkpoint, save_checkpoint
from ..models.crnn import count_parameters
from ..models.families import build_model
from ..models.musicnn import EMBED_CHANNELS, MusicnnCRNN
from ..models.pretrained.convert import WEIGHTS_PATH, load_pretrained, sha256
from .bank import WindowBank, bank_inputs, build_bank, track_probabilities, track_scores, window_logits
from .common import data_summary, smoothed_targets, soft_cross_entropy, start_run
from .frontend_cache import DEFAULT_CACHE, input_band_mean

log = logging.getLogger("genre_core.train")


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
    #: Recording-style copies (`styles.STYLES`) added to the training windows.
    styles: tuple[str, ...] = ()
    #: Train on the windows cached at a random gain too (else only the original level).
    use_gained: bool = True
    #: "last": keep the final epoch (epochs chosen by held-out sources); "best_valid": the best valid epoch.
    select: str = "last"
    #: Start the summary path as the linear probe (logistic regression on the frozen penultimate
    #: layer, C=`probe_c`) and, with `freeze_summary`, keep it so: the GRU path then learns what
    #: the probe gets wrong.
    summary_from_probe: bool = False
    freeze_summary: bool = False
    probe_c: float = 0.3


def transfer_config(
    embed_dim: int = 128, gru_hidden: int = 128, step_pool: int = 4, dropout: float = 0.3, sequence_weight: float = 1.0
) -> GenreConfig:
    model = ModelConfig(
        family="musicnn_crnn",
        gru_hidden=gru_hidden,
        gru_layers=1,
        dropout=dropout,
        step_pool=step_pool,
        embed_dim=embed_dim,
        sequence_weight=sequence_weight,
    )
    return GenreConfig(features=musicnn_features(), model=model)


def new_model(config: GenreConfig) -> MusicnnCRNN:
    """A transfer CRNN whose musicnn part holds the converted MSD weights."""
    model = build_model(config)
    weights = load_pretrained()
    model.musicnn.load_state_dict(weights)
    model.musicnn_tags.load_state_dict({k: v for k, v in weights.items() if k in model.musicnn_tags.state_dict()})
    return model


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


def fit(
    model: MusicnnCRNN,
    bank: WindowBank,
    train_idx: np.ndarray,
    s: TransferSettings,
    score_sets: dict[str, np.ndarray],
    started: float | None = None,
) -> list[dict[str, float]]:
    """Train `model` on the bank's `train_idx` windows; score each named set of recordings every epoch.

    A frozen mid end (`finetune_midend=False`) trains the new layers on the cached steps and
    penultimate layer; a fine-tuned one runs the mid end on the cached front-end output.
    Returns the per-epoch history; the model ends with the weights `s.select` chooses.
    """
    started = started or time.time()
    rng = np.random.default_rng(s.seed)
    torch.manual_seed(s.seed)
    n_classes = len(model.head[-1].bias)
    finetune = s.finetune_midend
    model.set_normalisation(*_step_statistics(bank.steps, train_idx))
    if s.summary_from_probe:
        weight, bias = probe_as_linear(fit_probe(bank, train_idx, s.probe_c), n_classes)
        with torch.no_grad():
            model.summary_head[-1].weight.copy_(weight)
            model.summary_head[-1].bias.copy_(bias)
    frozen = ("musicnn.", "musicnn_tags.", *(("summary_head.",) if s.freeze_summary else ()))
    trainable = [p for n, p in model.named_parameters() if not n.startswith(frozen)]
    for n, p in model.named_parameters():
        p.requires_grad_(not n.startswith(frozen))
    # Fine-tuned at a low rate: the mid end and the pretrained back end's dense layer (the summary path's input).
    mid = [
        p
        for n, p in model.named_parameters()
        if n.startswith(("musicnn.mid.", "musicnn.mid_bn.", "musicnn.dense.", "musicnn.dense_bn."))
    ]
    groups = [{"params": trainable, "lr": s.lr}]
    if finetune:
        for p in mid:
            p.requires_grad_(True)
        groups.append({"params": mid, "lr": s.midend_lr})
    optimiser = torch.optim.AdamW(groups, weight_decay=s.weight_decay)
    window_y = bank.y[bank.rec[train_idx]]
    by_class = [train_idx[window_y == c] for c in range(n_classes) if (window_y == c).any()]
    steps_per_epoch = int(np.ceil(s.windows_per_genre * len(by_class) / s.batch_size))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(  # at least 20 steps: the warm-up needs a few
        optimiser, max_lr=[g["lr"] for g in groups], total_steps=max(20, s.epochs * steps_per_epoch), pct_start=0.1
    )
    mask_width = s.frame_mask_width if finetune else max(1, s.frame_mask_width // model.cfg.step_pool)
    best: dict[str, Any] = {"f1": -1.0, "state": None}
    history: list[dict[str, float]] = []
    for epoch in range(1, s.epochs + 1):
        model.train()
        model.musicnn.eval()  # BN statistics stay the pretrained ones
        model.musicnn_tags.eval()
        order = np.concatenate([rng.choice(idx, s.windows_per_genre) for idx in by_class])
        rng.shuffle(order)
        losses = []
        for start in range(0, len(order), s.batch_size):
            idx = np.sort(order[start : start + s.batch_size])
            inputs = list(bank_inputs(bank, idx, finetune))
            if s.frame_masks:  # time masks on the front-end output, or on the steps of a frozen run
                x = inputs[0] if finetune else inputs[0].transpose(1, 2)
                x = mask_frames(x, s.frame_masks, mask_width, rng)
                inputs[0] = x if finetune else x.transpose(1, 2)
            y = smoothed_targets(bank.y[bank.rec[idx]], n_classes, s.label_smoothing)
            if s.mixup_alpha > 0:
                lam = float(rng.beta(s.mixup_alpha, s.mixup_alpha))
                perm = torch.from_numpy(rng.permutation(len(idx)))
                inputs = [lam * x + (1 - lam) * x[perm] for x in inputs]
                y = lam * y + (1 - lam) * y[perm]
            loss = soft_cross_entropy(window_logits(model, tuple(inputs)), y)
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            if scheduler.last_epoch + 1 < scheduler.total_steps:
                scheduler.step()
            losses.append(loss.item())
        row: dict[str, float] = {"epoch": epoch, "loss": float(np.mean(losses))}
        for name, recordings in score_sets.items():
            scored = track_scores(bank.y[recordings], track_probabilities(model, bank, recordings, finetune))
            row.update({f"{name}_acc": scored["acc"], f"{name}_macro_f1": scored["macro_f1"]})
        row.update({"lr": optimiser.param_groups[0]["lr"], "minutes": (time.time() - started) / 60})
        history.append(row)
        log.info(json.dumps(row))
        if s.select == "best_valid" and row.get("valid_macro_f1", -1.0) > best["f1"]:
            best = {"f1": row["valid_macro_f1"], "state": copy.deepcopy(model.state_dict())}
        if (time.time() - started) / 60 > s.max_minutes:
            log.info("stopping: time budget of %.0f min used", s.max_minutes)
            break
    if best["state"] is not None:
        model.load_state_dict(best["state"])
    model.eval()
    return history


def fit_probe(bank: WindowBank, train_idx: np.ndarray, c: float) -> Any:
    """Logistic regression on each training recording's mean penultimate layer (its windows as recorded).

    Balanced classes, standardised features: the linear probe of the transfer issue, whose
    C=0.3 was chosen on valid there.
    """
    own = train_idx[bank.style[train_idx] == ""]
    recordings = np.unique(bank.rec[own])
    x = np.stack([bank.penultimate[own[bank.rec[own] == r]].mean(axis=0) for r in recordings])
    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, class_weight="balanced", C=c))
    return probe.fit(x, bank.y[recordings])


def probe_as_linear(probe: Any, n_classes: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The probe's logits as one linear layer on the raw penultimate (standardisation folded in).

    A genre the probe never saw gets no weight and a bias of -20: probability ~0, as in the probe.
    """
    scaler, logistic = probe[0], probe[-1]
    weight = torch.zeros(n_classes, len(scaler.scale_))
    bias = torch.full((n_classes,), -20.0)
    coef = logistic.coef_ / scaler.scale_
    classes = torch.from_numpy(logistic.classes_)
    if len(logistic.classes_) == 2:  # sklearn keeps one row for two classes
        coef, intercept = np.stack([-coef[0] / 2, coef[0] / 2]), np.asarray([-1, 1]) * logistic.intercept_[0] / 2
    else:
        intercept = logistic.intercept_
    weight[classes] = torch.from_numpy(coef).float()
    bias[classes] = torch.from_numpy(intercept - coef @ scaler.mean_).float()
    return weight, bias


def _step_statistics(steps: np.ndarray, idx: np.ndarray, batch: int = 2048) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and std of each musicnn feature over the training windows' steps (the GRU path's normalisation)."""
    total, square, count = np.zeros(EMBED_CHANNELS), np.zeros(EMBED_CHANNELS), 0
    for start in range(0, len(idx), batch):
        x = steps[np.sort(idx[start : start + batch])].astype(np.float64)
        total += x.sum(axis=(0, 1))
        square += np.square(x).sum(axis=(0, 1))
        count += x.shape[0] * x.shape[1]
    mean = total / count
    std = np.sqrt(np.maximum(square / count - mean**2, 0))
    return torch.from_numpy(mean).float(), torch.from_numpy(std).float()


def train_transfer(
    manifest: str | Path,
    out: str | Path,
    config: GenreConfig | None = None,
    settings: TransferSettings | None = None,
    cache_dir: Path = DEFAULT_CACHE,
    extra_training: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train on the train split, score valid each epoch, save the epoch `settings.select` keeps at `out`."""
    config = config or transfer_config()
    s = settings or TransferSettings()
    out = Path(out)
    started = time.time()
    recs, train_recs, _ = start_run(manifest, out, config.labels, s.seed, s.threads)

    model = new_model(config)
    extractor = GenreClassifier(Checkpoint(model, config), device="cpu")
    bank = build_bank(recs, extractor, s, cache_dir, keep_front=s.finetune_midend)
    train_idx = bank.training_windows(s)
    log.info("front-end cache ready after %.1f min; %d training windows", (time.time() - started) / 60, len(train_idx))
    model.band_mean.copy_(input_band_mean(train_recs[::8], extractor))
    history = fit(model, bank, train_idx, s, {"valid": bank.recordings(split="valid")}, started)
    minutes = (time.time() - started) / 60
    chosen = max(history, key=lambda r: r["valid_macro_f1"]) if s.select == "best_valid" else history[-1]
    summary = {
        "recipe": "transfer",
        "settings": asdict(s),
        "best_epoch": chosen["epoch"],
        "best_valid_macro_f1": chosen["valid_macro_f1"],
        "epochs_run": len(history),
        "wall_minutes": round(minutes, 2),
        "device": "cpu",
        "threads": torch.get_num_threads(),
        "parameters": count_parameters(model),
        "trainable_parameters": sum(p.numel() for p in model.parameters() if p.requires_grad),
        "training_windows": int(len(train_idx)),
        "pretrained": {"weights": WEIGHTS_PATH.name, "sha256": sha256(WEIGHTS_PATH)},
        "history": history,
        "data": data_summary(recs),
        **(extra_training or {}),
    }
    save_checkpoint(out, model, config, metrics={}, training=summary)
    log.info(
        "saved %s (epoch %d, valid macro-F1 %.3f, %.1f min)", out, chosen["epoch"], chosen["valid_macro_f1"], minutes
    )
    return summary
