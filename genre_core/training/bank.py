"""The window bank: every cached training and valid window in memory, and track-level scoring on it.

A run that keeps musicnn frozen reads the frozen mid end's output (pooled into GRU steps) and
penultimate layer from the bank, so it trains only the new layers: seconds per epoch instead of
a minute. A fine-tuned mid end reads the cached front-end output instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from sklearn.metrics import f1_score
from tqdm import tqdm

from ..classifier import GenreClassifier
from ..models.musicnn import EMBED_CHANNELS, MusicnnCRNN
from .data import Recording
from .frontend_cache import frontend_cache, style_cache


class BankSettings(Protocol):
    """What building and drawing from a bank read of a recipe's settings (`TransferSettings` is one)."""

    train_hop_s: float
    gain_db: float
    seed: int
    #: Recording-style copies (`styles.STYLES`) added to the training windows.
    styles: tuple[str, ...]
    #: Train on the windows cached at a random gain too (else only the original level).
    use_gained: bool


@dataclass
class WindowBank:
    """Every cached window of the train and valid recordings, and where it came from.

    Training draws from the train split's windows; scoring averages a recording's
    `scored` windows (valid: the app's ten spread windows; train: every other window,
    those at the recording's own level, i.e. one every 3 s), so any recording of train
    or valid can be scored by a run that did not train on it.
    """

    recs: list[Recording]
    labels: tuple[str, ...]
    y: np.ndarray  # (recordings,) genre index
    rec: np.ndarray  # (windows,) index into recs
    style: np.ndarray  # (windows,) "" as recorded, else the recording-style chain it went through
    gained: np.ndarray  # (windows,) cached at a random gain
    scored: np.ndarray  # (windows,) one of its recording's track-level windows
    steps: np.ndarray  # (windows, steps, 753) float16: the frozen mid end's output, pooled into GRU steps
    penultimate: np.ndarray  # (windows, 200) float32: the frozen pretrained penultimate layer
    front: np.ndarray | None  # (windows, 561, frames) float16: kept only when the mid end is fine-tuned

    def recordings(self, split: str | None = None, source: str | None = None) -> np.ndarray:
        return np.asarray(
            [
                i
                for i, r in enumerate(self.recs)
                if (split is None or r.split == split) and (source is None or r.source == source)
            ],
            dtype=int,
        )

    def training_windows(self, s: BankSettings, without_source: str | None = None) -> np.ndarray:
        """The train split's windows a run with settings `s` learns from, leaving out one source if asked."""
        split = np.asarray([r.split for r in self.recs])[self.rec]
        source = np.asarray([r.source for r in self.recs])[self.rec]
        keep = (split == "train") & (source != without_source)
        keep &= (self.style == "") | np.isin(self.style, list(s.styles))
        if not s.use_gained:
            keep &= ~self.gained
        return np.flatnonzero(keep)


def build_bank(
    recs: list[Recording],
    classifier: GenreClassifier,
    s: BankSettings,
    cache_dir: Path,
    keep_front: bool,
) -> WindowBank:
    """Front-end caches of the train and valid recordings (and their recording-style copies) → one bank."""
    model: MusicnnCRNN = classifier.model
    train = [r for r in recs if r.split == "train"]
    valid = [r for r in recs if r.split == "valid"]
    blocks: list[tuple[int, str, np.ndarray, np.ndarray, np.ndarray]] = []  # rec, style, front, gained, scored
    for i, front in enumerate(
        frontend_cache(train, classifier, "timeline", s.train_hop_s, s.gain_db, cache_dir, s.seed)
    ):
        odd = np.arange(len(front)) % 2 == 1
        blocks.append((i, "", front, odd & (s.gain_db > 0), ~odd))
    for i, (style, front) in enumerate(style_cache(train, classifier, s.styles, cache_dir, s.seed) if s.styles else []):
        blocks.append((i, style, front, np.zeros(len(front), bool), np.zeros(len(front), bool)))
    for i, front in enumerate(frontend_cache(valid, classifier, "spread", 3.0, 0.0, cache_dir, s.seed)):
        blocks.append((len(train) + i, "", front, np.zeros(len(front), bool), np.ones(len(front), bool)))
    blocks = [b for b in blocks if len(b[2])]
    total = sum(len(b[2]) for b in blocks)
    n_steps = -(-blocks[0][2].shape[-1] // model.cfg.step_pool)
    steps = np.empty((total, n_steps, EMBED_CHANNELS), np.float16)
    penultimate = np.empty((total, 200), np.float32)
    front_all = np.empty((total, *blocks[0][2].shape[1:]), np.float16) if keep_front else None
    at = 0
    with torch.inference_mode():
        for _, _, front, _, _ in tqdm(blocks, desc="frozen mid end"):
            embed = model.musicnn.midend(torch.from_numpy(front).float())
            steps[at : at + len(front)] = model.steps(embed).numpy()
            penultimate[at : at + len(front)] = model.musicnn.penultimate(embed).numpy()
            if front_all is not None:
                front_all[at : at + len(front)] = front
            at += len(front)
    ordered = train + valid
    return WindowBank(
        recs=ordered,
        labels=classifier.labels,
        y=np.asarray([classifier.labels.index(r.genre) for r in ordered]),
        rec=np.concatenate([np.full(len(b[2]), b[0]) for b in blocks]),
        style=np.concatenate([np.full(len(b[2]), b[1], dtype=object) for b in blocks]).astype(str),
        gained=np.concatenate([b[3] for b in blocks]),
        scored=np.concatenate([b[4] for b in blocks]),
        steps=steps,
        penultimate=penultimate,
        front=front_all,
    )


def head_from_front(model: MusicnnCRNN, front: torch.Tensor) -> torch.Tensor:
    """Mid end, back end and genre paths on cached front-end outputs."""
    return model.forward_embed(model.musicnn.midend(front))


def bank_inputs(bank: WindowBank, idx: np.ndarray, finetune: bool) -> tuple[torch.Tensor, ...]:
    if finetune:
        assert bank.front is not None, "a fine-tuned mid end needs the bank's front-end outputs"
        return (torch.from_numpy(bank.front[idx]).float(),)
    return torch.from_numpy(bank.steps[idx]).float(), torch.from_numpy(bank.penultimate[idx])


def window_logits(model: MusicnnCRNN, inputs: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Genre logits from a fine-tuned run's front-end output, or a frozen run's cached steps and penultimate."""
    return head_from_front(model, inputs[0]) if len(inputs) == 1 else model.combine(*inputs)


@torch.inference_mode()
def track_probabilities(
    model: MusicnnCRNN, bank: WindowBank, recordings: np.ndarray, finetune: bool, batch: int = 256
) -> np.ndarray:
    """Mean window probability of each recording (softmax at temperature 1), over its scored windows."""
    model.eval()
    position = np.full(len(bank.recs), -1)
    position[recordings] = np.arange(len(recordings))
    idx = np.flatnonzero(bank.scored & (position[bank.rec] >= 0))
    sums = np.zeros((len(recordings), len(model.head[-1].bias)))
    counts = np.zeros(len(recordings))
    for start in range(0, len(idx), batch):
        chunk = idx[start : start + batch]
        probs = torch.softmax(window_logits(model, bank_inputs(bank, chunk, finetune)), dim=-1).numpy()
        np.add.at(sums, position[bank.rec[chunk]], probs)
        np.add.at(counts, position[bank.rec[chunk]], 1)
    return sums / np.maximum(counts, 1)[:, None]


def track_scores(y: np.ndarray, probs: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-F1 of the top genre, over the genres the recordings have (a source may lack some)."""
    return decision_scores(y, probs.argmax(1))


def decision_scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-F1 of decided genre indices, over the genres the recordings have."""
    present = sorted(set(y.tolist()))
    return {
        "acc": float((pred == y).mean()),
        "macro_f1": float(f1_score(y, pred, labels=present, average="macro", zero_division=0)),
    }
