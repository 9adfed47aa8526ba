"""Should a logistic regression on genres + tags re-decide the ten? Judged by the rule that chose the network.

A quick check (issue 33) fitted such a re-decider on train and found it gained on test while it lost on
valid; a valid-split check cannot settle that, because valid shares its sources with train. Here every
held-out-source run of a frozen-front-end candidate (its network trained without source S) gets its own
re-decider, fitted on that run's outputs for the train recordings not from S: the mean over each
recording's scored windows of the genre probabilities (as log-probabilities) and of the pretrained
network's 50 MSD tags (as log-odds), standardised, C = 0.1. It is scored on S's train and valid
recordings beside the network's own decision, twice:

- `ten`: fitted on songs of the ten only;
- `families`: fitted with the train split's other music as more classes (electronic, R&B, new age, the
  rest `unknown`: `training.outside.FAMILIES`), the ten then decided among the ten's columns; the share of
  S's songs of the ten whose overall top class is not one of the ten is reported beside it.

The all-sources run (nothing held out) fits on train and is scored on valid, as before. Test is never read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from ..classifier import GenreClassifier
from ..models.musicnn import MusicnnCRNN
from ..models.openset import transform
from .bank import WindowBank, decision_scores
from .data import Recording
from .frontend_cache import frontend_cache
from .outside import families_of

REDECIDE_C = 0.1
UNKNOWN = "unknown"


@dataclass
class OtherMusic:
    """The train and valid recordings of none of the ten, through the frozen mid end once (ten spread windows)."""

    recs: list[Recording]
    labels: np.ndarray  # (recordings,) family name, or "unknown"
    rec: np.ndarray  # (windows,) index into recs
    steps: np.ndarray  # (windows, steps, 753) float16
    penultimate: np.ndarray  # (windows, 200) float32


@torch.inference_mode()
def other_music(recs: list[Recording], classifier: GenreClassifier, cache_dir: Path, seed: int) -> OtherMusic:
    """Other music's windows, cached like valid's (the app's ten spread windows)."""
    model: MusicnnCRNN = classifier.model
    others = [r for r in recs if r.is_other and r.split in ("train", "valid")]
    fronts = frontend_cache(others, classifier, "spread", 3.0, 0.0, cache_dir, seed)
    steps, penultimate, owner = [], [], []
    for i, front in enumerate(fronts):
        if len(front):
            embed = model.musicnn.midend(torch.from_numpy(front).float())
            steps.append(model.steps(embed).numpy().astype(np.float16))
            penultimate.append(model.musicnn.penultimate(embed).numpy())
            owner.append(np.full(len(front), i))
    labels = np.asarray([(families_of(r.source_genres) or [UNKNOWN])[0] for r in others])
    return OtherMusic(others, labels, np.concatenate(owner), np.concatenate(steps), np.concatenate(penultimate))


@torch.inference_mode()
def song_inputs(
    model: MusicnnCRNN, steps: np.ndarray, penultimate: np.ndarray, owner: np.ndarray, n: int, batch: int = 256
) -> np.ndarray:
    """Per recording: log of the mean genre probability, then log-odds of the mean tag probability."""
    model.eval()
    genres, tags = np.zeros((n, len(model.head[-1].bias))), np.zeros((n, len(model.tag_labels)))
    for start in range(0, len(owner), batch):
        s = slice(start, start + batch)
        st, pen = torch.from_numpy(steps[s]).float(), torch.from_numpy(penultimate[s]).float()
        np.add.at(genres, owner[s], torch.softmax(model.combine(st, pen), dim=-1).numpy())
        np.add.at(tags, owner[s], torch.sigmoid(model.musicnn_tags.tag_head(pen)).numpy())
    counts = np.maximum(np.bincount(owner, minlength=n), 1)[:, None]
    return np.concatenate([transform("genres", genres / counts), transform("tags", tags / counts)], axis=1)


def bank_song_inputs(model: MusicnnCRNN, bank: WindowBank) -> np.ndarray:
    """`song_inputs` of every bank recording, over its scored windows."""
    idx = np.flatnonzero(bank.scored)
    return song_inputs(model, bank.steps[idx], bank.penultimate[idx], bank.rec[idx], len(bank.recs))


def fit_and_decide(x_fit: np.ndarray, y_fit: np.ndarray, x_score: np.ndarray, ten: int) -> tuple[np.ndarray, ...]:
    """Standardised logistic regression; the ten decided among the ten's columns, and the overall top class."""
    mean, scale = x_fit.mean(axis=0), x_fit.std(axis=0)
    scale = np.where(scale > 1e-9, scale, 1.0)
    model = LogisticRegression(C=REDECIDE_C, max_iter=5000).fit((x_fit - mean) / scale, y_fit)
    probs = model.predict_proba((x_score - mean) / scale)
    columns = [list(model.classes_).index(k) for k in range(ten) if k in model.classes_]
    among_ten = np.asarray(model.classes_)[columns][probs[:, columns].argmax(axis=1)]
    return among_ten, np.asarray(model.classes_)[probs.argmax(axis=1)]


def redecide_run(
    model: MusicnnCRNN, bank: WindowBank, others: OtherMusic, held_out: str | None, scored: np.ndarray
) -> dict[str, Any]:
    """The network's own decision on `scored` and the two re-deciders', for one run (trained without `held_out`)."""
    ten = len(bank.labels)
    x_bank = bank_song_inputs(model, bank)
    source = np.asarray([r.source for r in bank.recs])
    split = np.asarray([r.split for r in bank.recs])
    fit_on = (split == "train") & (source != held_out)
    own = x_bank[scored, :ten].argmax(axis=1)
    y = bank.y[scored]
    out: dict[str, Any] = {"n": len(scored), "network": decision_scores(y, own)}
    among_ten, _ = fit_and_decide(x_bank[fit_on], bank.y[fit_on], x_bank[scored], ten)
    out["ten"] = decision_scores(y, among_ten)
    x_other = song_inputs(model, others.steps, others.penultimate, others.rec, len(others.recs))
    other_fit = np.asarray([r.split == "train" and r.source != held_out for r in others.recs])
    names = sorted(set(others.labels[other_fit]))
    y_other = ten + np.asarray([names.index(label) for label in others.labels[other_fit]], dtype=int)
    among_ten, top = fit_and_decide(
        np.concatenate([x_bank[fit_on], x_other[other_fit]]),
        np.concatenate([bank.y[fit_on], y_other]),
        x_bank[scored],
        ten,
    )
    out["families"] = {
        **decision_scores(y, among_ten),
        "classes": [*bank.labels, *names],
        "other_music_fitted": int(other_fit.sum()),
        "outside_share": float(np.mean(top >= ten)),
    }
    return out


def summarise_redecide(runs: dict[str, dict[str, Any]], held_out: tuple[str, ...]) -> dict[str, Any]:
    """Per decision (network, ten, families): the mean over held-out sources of accuracy and macro-F1."""
    keys = [k for k in held_out if k in runs and "redecide" in runs[k]]
    out = {}
    for decision in ("network", "ten", "families"):
        out[decision] = {
            m: float(np.mean([runs[k]["redecide"][decision][m] for k in keys])) for m in ("acc", "macro_f1")
        }
    return out


def redecide_table(name: str, runs: dict[str, dict[str, Any]], held_out: tuple[str, ...]) -> str:
    """Markdown: each held-out source and valid, the network's decision against the two re-deciders'."""
    lines = [
        f"Re-deciding the ten ({name}): accuracy / macro-F1, track level",
        "",
        "| scored on | songs | network | re-decided (ten) | re-decided (ten + families) | called outside |",
        "|---|---|---|---|---|---|",
    ]
    for key in [*held_out, "valid"]:
        r = runs.get(key, {}).get("redecide")
        if not r:
            continue
        label = f"{key} (held out)" if key != "valid" else "valid (all sources trained)"
        cells = [f"{r[d]['acc']:.1%} / {r[d]['macro_f1']:.3f}" for d in ("network", "ten", "families")]
        lines.append(f"| {label} | {r['n']} | {' | '.join(cells)} | {r['families']['outside_share']:.1%} |")
    mean = summarise_redecide(runs, held_out)
    cells = [f"{mean[d]['acc']:.1%} / {mean[d]['macro_f1']:.3f}" for d in ("network", "ten", "families")]
    lines.append(f"| mean of held-out sources | | {' | '.join(cells)} | |")
    return "\n".join(lines)
