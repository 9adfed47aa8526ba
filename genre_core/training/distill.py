"""Soft labels from a teacher model for every training window (knowledge distillation).

The teacher (the shipped transfer CRNN) hears each train recording on its own
timeline of windows; its cached front-end outputs (the ones its own training
used) are reused, so only the mid end and the heads run here. A student crop is
labelled with the teacher's probabilities at the nearest teacher window, mapped
back through a vari-speed copy's time scale.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..classifier import GenreClassifier
from .data import Recording
from .frontend_cache import DEFAULT_CACHE as MUSICNN_CACHE
from .frontend_cache import frontend_cache

log = logging.getLogger("genre_core.train")


@dataclass
class TeacherWindows:
    """Per train recording: the teacher's window probabilities `(windows, classes)` every `hop_s` seconds."""

    probs: list[np.ndarray]
    hop_s: float

    def at(self, recording: int, start_s: float) -> np.ndarray:
        """The teacher's probabilities for a window starting at `start_s` (original time) of `recording`."""
        probs = self.probs[recording]
        j = int(np.clip(round(start_s / self.hop_s), 0, len(probs) - 1))
        return probs[j]


@torch.inference_mode()
def teacher_windows(
    recs: list[Recording], teacher: str | Path, labels: tuple[str, ...], cache_dir: Path = MUSICNN_CACHE
) -> TeacherWindows:
    """The teacher's calibrated probabilities over each recording's timeline, from its cached front end."""
    clf = GenreClassifier.load(teacher, device="cpu")
    if clf.labels != labels:
        raise ValueError(f"the teacher's genres {clf.labels} are not the student's {labels}")
    if clf.config.model.family != "musicnn_crnn":
        raise ValueError("distillation reads a transfer (musicnn) teacher's cached front end")
    s = clf.checkpoint.training.get("settings", {})
    hop, gain, seed = float(s.get("train_hop_s", 1.5)), float(s.get("gain_db", 6.0)), int(s.get("seed", 1234))
    fronts = frontend_cache(recs, clf, "timeline", hop, gain, cache_dir, seed)
    probs = []
    for front in fronts:
        if not len(front):  # unreadable or silent: the student's hard label alone
            probs.append(np.full((1, len(labels)), np.nan, np.float32))
            continue
        embed = clf.model.musicnn.midend(torch.from_numpy(front).float())
        probs.append(clf.probabilities(clf.model.forward_embed(embed)).astype(np.float32))
    log.info("teacher %s: %d windows over %d recordings", teacher, sum(len(p) for p in probs), len(probs))
    return TeacherWindows(probs, hop)
