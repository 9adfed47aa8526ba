"""Choose designs by music the model has not heard: leave-one-source-out validation.

The valid split shares its sources with train, so a design that learns a dataset's
recording style wins on valid and loses on a user's files. Here each candidate is
trained once per held-out source S without any of S's recordings, and scored on S's
train and valid recordings (track level: the mean of each recording's window
probabilities); one more run on the whole train split is scored on valid. The test
split is never read.

The rule that chooses designs, epochs and the shipped model: the mean over held-out
sources of track-level macro-F1 (over the genres the source has). Valid figures are
reported beside it, not used to choose.

Every run reads the transfer trainer's window bank (the cached frozen front end), so
a frozen-mid-end candidate's run takes a minute or two on two cores.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..classifier import GenreClassifier
from ..config import GenreConfig
from ..errors import UsageError
from ..models.checkpoint import Checkpoint
from ..report import HELD_OUT_SOURCES, RULE_METRIC
from .bank import WindowBank, build_bank, track_probabilities, track_scores
from .data import read_manifest
from .frontend_cache import DEFAULT_CACHE
from .redecide import OtherMusic, other_music, redecide_run, summarise_redecide
from .styles import STYLES
from .transfer import TransferSettings, fit, fit_probe, new_model, train_transfer, transfer_config

log = logging.getLogger("genre_core.train")


@dataclass(frozen=True)
class Candidate:
    """A design to score: a CRNN recipe, the linear probe, or the average of two candidates' probabilities."""

    name: str
    description: str
    kind: str = "crnn"  # "crnn" | "probe" | "average"
    settings: TransferSettings = field(default_factory=TransferSettings)
    dropout: float = 0.3
    sequence_weight: float = 1.0
    parts: tuple[str, ...] = ()

    def config(self) -> GenreConfig:
        return transfer_config(dropout=self.dropout, sequence_weight=self.sequence_weight)


FROZEN = TransferSettings(epochs=10, finetune_midend=False)
#: The short schedule that makes a fine-tuned candidate's four runs affordable on two cores.
SHORT = replace(FROZEN, epochs=6, windows_per_genre=300)
#: Every design measured under the rule; `train-transfer --candidate NAME` trains one of them on all of train.
CANDIDATES: dict[str, Candidate] = {
    c.name: c
    for c in [
        Candidate("probe", "logistic regression on the frozen penultimate layer (window mean)", kind="probe"),
        Candidate(
            "finetuned",
            "dual-path CRNN, mid end and penultimate fine-tuned (the recipe shipped before), short: 6 epochs of 300",
            settings=replace(SHORT, finetune_midend=True),
        ),
        Candidate(
            "frozen", "dual-path CRNN, whole musicnn frozen, 10 epochs of 500 windows per genre", settings=FROZEN
        ),
        Candidate("frozen_short", "as frozen, short: 6 epochs of 300 (finetuned's schedule)", settings=SHORT),
        Candidate(
            "frozen_strong_reg",
            "as frozen, dropout 0.5, weight decay 0.1, mixup 0.4",
            settings=replace(FROZEN, weight_decay=0.1, mixup_alpha=0.4),
            dropout=0.5,
        ),
        Candidate("frozen_seq_half", "as frozen, GRU path's logits weighted 0.5", settings=FROZEN, sequence_weight=0.5),
        Candidate(
            "probe_residual",
            "summary path = the probe (frozen), GRU path learns the rest, 10 epochs",
            settings=replace(FROZEN, summary_from_probe=True, freeze_summary=True),
        ),
        Candidate(
            "probe_residual_half",
            "as probe_residual, GRU path's logits weighted 0.5",
            settings=replace(FROZEN, summary_from_probe=True, freeze_summary=True),
            sequence_weight=0.5,
        ),
        Candidate(
            "probe_residual_half_styles",
            "as probe_residual_half, + all three recording-style copies",
            settings=replace(FROZEN, summary_from_probe=True, freeze_summary=True, styles=STYLES),
            sequence_weight=0.5,
        ),
        Candidate(
            "probe_init",
            "summary path starts as the probe and trains on, 10 epochs",
            settings=replace(FROZEN, summary_from_probe=True),
        ),
        Candidate(
            "frozen_no_gain",
            "as frozen, without the windows cached at a random gain",
            settings=replace(FROZEN, use_gained=False),
        ),
        Candidate(
            "frozen_mp3",
            "as frozen, + MP3 copies (64-192 kbps) of a third of train",
            settings=replace(FROZEN, styles=("mp3",)),
        ),
        Candidate(
            "frozen_bandlimit",
            "as frozen, + band-limited copies (4-7.5 kHz) of a third of train",
            settings=replace(FROZEN, styles=("bandlimit",)),
        ),
        Candidate(
            "frozen_eq",
            "as frozen, + EQ-shelved copies (+-8 dB) of a third of train",
            settings=replace(FROZEN, styles=("eq",)),
        ),
        Candidate(
            "frozen_styles",
            "as frozen, + all three recording-style copies",
            settings=replace(FROZEN, styles=("mp3", "bandlimit", "eq")),
        ),
        Candidate(
            "probe+frozen",
            "mean of the probe's and the frozen CRNN's probabilities",
            kind="average",
            parts=("probe", "frozen"),
        ),
        Candidate(
            "probe+finetuned",
            "mean of the probe's and the fine-tuned CRNN's probabilities",
            kind="average",
            parts=("probe", "finetuned"),
        ),
    ]
}


def score_sets(bank: WindowBank, held_out: str | None) -> dict[str, np.ndarray]:
    """What a run is scored on: valid (all sources trained), or every train+valid recording of the held-out source."""
    if held_out is None:
        return {"valid": bank.recordings(split="valid")}
    return {held_out: bank.recordings(source=held_out)}


def run_crnn(
    candidate: Candidate, bank: WindowBank, held_out: str | None, others: OtherMusic | None = None
) -> dict[str, Any]:
    """One training run of a CRNN candidate; per-epoch history and the final epoch's probabilities
    (and, given the other music, the re-deciders' scores beside the network's: `redecide`)."""
    s = candidate.settings
    model = new_model(candidate.config())
    sets = score_sets(bank, held_out)
    history = fit(model, bank, bank.training_windows(s, without_source=held_out), s, sets)
    (recordings,) = sets.values()
    probs = track_probabilities(model, bank, recordings, s.finetune_midend)
    run = {"history": history, "recordings": recordings.tolist(), "probs": probs.tolist()}
    if others is not None:
        run["redecide"] = redecide_run(model, bank, others, held_out, recordings)
    return run


def run_probe(candidate: Candidate, bank: WindowBank, held_out: str | None) -> dict[str, Any]:
    """The linear probe (`transfer.fit_probe`) without the held-out source; scored on its recordings' scored windows."""
    s = candidate.settings
    probe = fit_probe(bank, bank.training_windows(replace(s, styles=()), without_source=held_out), s.probe_c)
    _, scored = next(iter(score_sets(bank, held_out).items()))
    feats = np.stack([bank.penultimate[bank.scored & (bank.rec == r)].mean(axis=0) for r in scored])
    probs = np.zeros((len(scored), len(bank.labels)))
    probs[:, probe.classes_] = probe.predict_proba(feats)
    return {"history": [], "recordings": scored.tolist(), "probs": probs.tolist()}


def summarise(bank: WindowBank, runs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Final-epoch scores per run, the rule's mean, and the per-epoch mean for choosing epochs."""
    out: dict[str, Any] = {}
    for key, run in runs.items():
        recordings = np.asarray(run["recordings"])
        out[key] = {"n": len(recordings), **track_scores(bank.y[recordings], np.asarray(run["probs"]))}
    held = [k for k in HELD_OUT_SOURCES if k in out]
    if held:
        out["held_out_mean"] = {m: float(np.mean([out[k][m] for k in held])) for m in ("acc", "macro_f1")}
        curves = [runs[k]["history"] for k in held if runs[k]["history"]]
        if curves and len({len(c) for c in curves}) == 1:
            out["held_out_mean_by_epoch"] = [
                float(np.mean([c[e][f"{k}_{RULE_METRIC}"] for c, k in zip(curves, held, strict=True)]))
                for e in range(len(curves[0]))
            ]
    return out


def average_runs(parts: list[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The mean of several candidates' probabilities, run by run (same recordings in the same order)."""
    runs = {}
    for key in parts[0]:
        if all(key in p for p in parts):
            probs = np.mean([np.asarray(p[key]["probs"]) for p in parts], axis=0)
            runs[key] = {"history": [], "recordings": parts[0][key]["recordings"], "probs": probs.tolist()}
    return runs


def evaluate_candidate(
    candidate: Candidate,
    bank: WindowBank,
    sources: tuple[str, ...],
    done: dict[str, Any],
    others: OtherMusic | None = None,
) -> dict[str, dict[str, Any]]:
    """Every run of one candidate: one per held-out source, and the all-sources run scored on valid."""
    if candidate.kind == "average":
        missing = [p for p in candidate.parts if p not in done]
        if missing:
            raise UsageError(f"'{candidate.name}' averages {missing}: run those candidates first")
        return average_runs([done[p]["runs"] for p in candidate.parts])
    runs = {}
    for held_out in (*sources, None):
        started = time.time()
        if candidate.kind == "probe":
            runs[held_out or "valid"] = run_probe(candidate, bank, held_out)
        else:
            runs[held_out or "valid"] = run_crnn(candidate, bank, held_out, others)
        log.info("%s without %s: %.1f min", candidate.name, held_out or "nothing", (time.time() - started) / 60)
    return runs


def holdout(
    manifest: str | Path,
    chosen: list[Candidate],
    out: Path,
    sources: tuple[str, ...] = HELD_OUT_SOURCES,
    cache_dir: Path = DEFAULT_CACHE,
    threads: int = 0,
    redecide: bool = False,
) -> dict[str, Any]:
    """Score the named candidates under the rule; results accumulate in the JSON file `out`. With `redecide`,
    each CRNN run also scores the genres + tags re-deciders (`training.redecide`) beside its own decision."""
    if redecide and any(c.kind != "crnn" or c.settings.finetune_midend for c in chosen):
        raise UsageError("--redecide reads the cached frozen mid end: choose frozen-front-end CRNN candidates only")
    if threads:
        torch.set_num_threads(threads)
    results = json.loads(out.read_text()) if out.is_file() else {}
    config = transfer_config()
    recs = read_manifest(manifest, config.labels)
    styles = tuple(sorted({st for c in chosen for st in c.settings.styles}))
    finetune = any(c.kind == "crnn" and c.settings.finetune_midend for c in chosen)
    extractor = GenreClassifier(Checkpoint(new_model(config), config), device="cpu")
    bank = build_bank(recs, extractor, replace(TransferSettings(), styles=styles), cache_dir, keep_front=finetune)
    others = None
    if redecide:
        everything = read_manifest(manifest, config.labels, include_other=True)
        others = other_music(everything, extractor, cache_dir, TransferSettings().seed)
    for candidate in chosen:
        started = time.time()
        runs = evaluate_candidate(candidate, bank, sources, results, others)
        results[candidate.name] = {
            "description": candidate.description,
            "kind": candidate.kind,
            "settings": asdict(candidate.settings),
            "dropout": candidate.dropout,
            "sequence_weight": candidate.sequence_weight,
            "runs": runs,
            "scores": summarise(bank, runs),
            **({"redecide": summarise_redecide(runs, sources)} if others is not None else {}),
            "minutes": round((time.time() - started) / 60, 2),
        }
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results))
        log.info("%s: %s", candidate.name, json.dumps(results[candidate.name]["scores"].get("held_out_mean")))
    return results


def train_candidate(
    manifest: str | Path, out: str | Path, name: str, results_path: str | Path | None, threads: int = 0
) -> dict[str, Any]:
    """Train candidate `name` on the whole train split with its own settings; its held-out scores travel along."""
    if name not in CANDIDATES or CANDIDATES[name].kind != "crnn":
        raise UsageError(
            f"'{name}' is not a CRNN candidate; choose one of {[n for n, c in CANDIDATES.items() if c.kind == 'crnn']}"
        )
    candidate = CANDIDATES[name]
    results = json.loads(Path(results_path).read_text()) if results_path and Path(results_path).is_file() else {}
    extra: dict[str, Any] = {"candidate": name, "description": candidate.description}
    if name in results:
        sources = [s for s in HELD_OUT_SOURCES if s in results[name]["scores"]]
        extra["holdout"] = {
            "rule": f"held-out {RULE_METRIC.replace('_', '-')}",
            "sources": sources,
            "scores": results[name]["scores"],
            # Every candidate's scores (not their runs), so the report can show what this one beat.
            "candidates": {k: {"scores": v["scores"], "description": v["description"]} for k, v in results.items()},
        }
    settings = replace(candidate.settings, threads=threads) if threads else candidate.settings
    return train_transfer(manifest, out, candidate.config(), settings, extra_training=extra)
