"""How sure a genre must be to be written: measured thresholds from the checkpoint, given ones from the user.

`calibrate` stores each model's thresholds (first genre; second and third genres) chosen on
the valid split; `write-tags` and the beets plugin combine them with given numbers through
the same two functions, so the rules cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import UsageError
from ..models.openset import genre_write_cut
from .model_record import ModelRecord, RunModels, run_models


@dataclass(frozen=True)
class Threshold:
    """The probability a genre must reach to be written, and where that number comes from."""

    min_probability: float
    source: str
    valid_precision: float | None = None
    valid_coverage: float | None = None
    #: A second or third genre is written where its own probability reaches this (None: no measured rule).
    secondary_min_probability: float | None = None
    secondary_source: str = ""
    #: A song whose open-set probability (none of the ten genres) reaches this is not written (None: no rule).
    max_other_probability: float | None = None
    #: A song the verdict holds back gets its family outside the ten written where P(family | other) reaches
    #: this (the outside head's measured cut; None: never).
    outside_min_probability: float | None = None


def measured_threshold(model: str | Path | ModelRecord | None) -> Threshold | None:
    """The write threshold stored in a checkpoint by `calibrate`, or None if it has none."""
    record = model if isinstance(model, ModelRecord) else ModelRecord.read(model)
    path, calibration = record.path, record.calibration
    measured = calibration.get("tag_threshold") or {}
    if measured.get("min_probability") is None:
        return None
    secondary = measured.get("secondary") or {}
    threshold = Threshold(
        float(measured["min_probability"]),
        f"{path.name}: chosen for {measured['target_precision']:.0%} precision on valid",
        measured["valid"]["precision"],
        measured["valid"]["coverage"],
        secondary.get("min_probability"),
        f"{path.name}: chosen for {secondary['target_precision']:.0%} secondary precision on valid"
        if secondary.get("min_probability") is not None
        else "",
    )
    threshold = with_write_rule(threshold, path, calibration)
    return replace(threshold, outside_min_probability=(calibration.get("outside") or {}).get("write_threshold"))


def with_write_rule(threshold: Threshold, path: Path, calibration: Mapping[str, Any]) -> Threshold:
    """The open-set write rule, where `openset` chose one: a genre cut and a p_other cut for libraries with other music.

    Chosen on valid so that written genres are right >= 90 % of the time on a library of 70 % songs of the
    ten and 30 % other music; the genre cut never goes below the model's own tag threshold, and is the one
    the verdict yields to (`genre_write_cut`).
    """
    info = (calibration.get("open_set") or {}).get("info") or {}
    rule = info.get("write_rule")
    if not rule:
        return threshold
    valid = (info.get("valid") or {}).get("write_tags") or {}
    return replace(
        threshold,
        min_probability=cut if (cut := genre_write_cut(calibration)) is not None else threshold.min_probability,
        source=f"{path.name}: chosen with the open-set check for 90 % precision on a library of 70 % songs of "
        "the ten genres and 30 % other music, on valid",
        valid_precision=valid.get("ten_genre_written_right", threshold.valid_precision),
        valid_coverage=valid.get("ten_genre_written", threshold.valid_coverage),
        max_other_probability=rule.get("max_other_probability"),
    )


def model_thresholds(models: RunModels, ids: set[str]) -> dict[str, Threshold]:
    """model_id → its measured write threshold, for each model of the run that made rows of the table (`ids`)
    and has one; the others are hashed, never loaded."""
    found = {}
    for record in models.candidates:
        if record.model_id in ids and (threshold := measured_threshold(record)) is not None:
            found[record.model_id] = threshold
    return found


def thresholds_for(
    table: pd.DataFrame,
    model: str | RunModels | None,
    min_probability: float | None,
    max_genres: int = 1,
    secondary_min_probability: float | None = None,
) -> dict[str, Threshold]:
    """The threshold of each model that classified rows of `table`; given numbers override them all."""
    models = run_models(model)
    ids = {str(m) for m in table.get("model_id", pd.Series(dtype=str)).dropna().unique()}
    if max_genres < 1:
        raise UsageError("--max-genres must be at least 1")
    for name, value in (
        ("--min-probability", min_probability),
        ("--secondary-min-probability", secondary_min_probability),
    ):
        if value is not None and not 0 <= value <= 1:
            raise UsageError(f"{name} must be between 0 and 1")
    if min_probability is None:
        known = _measured_thresholds(ids, models)
    else:  # the measured ones are read only for what a given threshold leaves open: the secondary one
        known = model_thresholds(models, ids) if max_genres > 1 and secondary_min_probability is None else {}
    combined = {m: combine_thresholds(known.get(m), min_probability, secondary_min_probability) for m in ids}
    found = {m: t for m, t in combined.items() if t is not None}
    if found:
        require_secondary(found.values(), max_genres)
    return found


def combine_thresholds(
    measured: Threshold | None, min_probability: float | None, secondary_min_probability: float | None
) -> Threshold | None:
    """Given thresholds over a model's measured ones (a given first-genre one keeps the measured secondary one).

    None when there is no first-genre threshold at all. Shared by `write-tags` and the beets plugin.
    """
    if min_probability is None and measured is None:
        return None
    threshold = measured
    if min_probability is not None:
        threshold = Threshold(
            min_probability,
            "given",
            secondary_min_probability=measured.secondary_min_probability if measured else None,
            secondary_source=measured.secondary_source if measured else "",
            max_other_probability=measured.max_other_probability if measured else None,
            outside_min_probability=measured.outside_min_probability if measured else None,
        )
    if secondary_min_probability is not None:
        threshold = replace(threshold, secondary_min_probability=secondary_min_probability, secondary_source="given")
    return threshold


def require_secondary(thresholds: Iterable[Threshold], max_genres: int) -> None:
    """More than one genre needs a secondary threshold, measured or given."""
    if max_genres > 1 and all(t.secondary_min_probability is None for t in thresholds):
        raise UsageError(
            "no measured rule for secondary genres: `calibrate` found no probability at which a second genre is "
            "right often enough on valid for this model (see the model card). Pass --secondary-min-probability "
            "to choose one yourself, or leave --max-genres at 1."
        )


def _measured_thresholds(ids: set[str], models: RunModels) -> dict[str, Threshold]:
    known = model_thresholds(models, ids)
    if ids and not ids & known.keys():
        raise UsageError(
            "no write threshold for the model that made this table: either `calibrate` found no probability at "
            "which its genres are right 90 % of the time on valid (the from-scratch crnn), or the table came from "
            "another checkpoint (--model PATH). Pass --min-probability to choose one yourself."
        )
    return {m: known[m] for m in ids if m in known}
