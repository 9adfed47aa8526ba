"""Moods into files: the mood label (e.g. "calm / relaxed") where Picard, Kodi and Navidrome read it.

Planned beside a file's genre (`write_tags`) but decided on its own: a mood is written where its
quadrant probability reaches the model's measured threshold (chosen on valid by `python -m genre_core
mood`: written moods right >= 80 %) or a given one, whatever happened to the genre, so moods can be
written when no genre passes its threshold, or alone (`--moods-only`). The same guarantees as genres:
a dry run first, a journal entry before each write, exact undo, hard links written in place.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from ..export import cell_number
from .filetags import GenreState, TagWriteError, holds, is_read_only, read_mood, with_mood
from .model_record import RunModels, run_models
from .table_sync import TableSync
from .tag_journal import Journal


@dataclass
class MoodPlan:
    """What happens to one file's mood field."""

    action: str  # write | written | same | keep | below | none | skip | failed
    reason: str
    label: str | None = None
    probability: float | None = None
    current: tuple[str, ...] = ()
    before: GenreState | None = None
    after: GenreState | None = None
    in_place: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "reason": self.reason,
            "mood": self.label,
            "probability": self.probability,
            "current": list(self.current),
            "proposed": list(self.after.shown) if self.after else list(self.current),
        }


def mood_threshold(model: str | Path | RunModels | None, given: float | None) -> float:
    """The probability a mood must reach: given, else the checkpoint's measured one, else a clear refusal."""
    if given is not None:
        if not 0 <= given <= 1:
            raise UsageError("--mood-min-probability must be between 0 and 1")
        return float(given)
    record = run_models(model).chosen  # a deploy may hold the export and sidecar without the checkpoint
    head = record.calibration.get("mood")
    if not head:
        raise UsageError(
            f"{record.path.name} has no mood head (the fast crnn has none: it has no tag head to read moods from); "
            "tag the library with the default model, or pass --mood-min-probability"
        )
    if head.get("write_threshold") is None:
        raise UsageError(
            "no measured rule for moods: on valid no probability makes written moods right 80 % of the time "
            "for this model. Pass --mood-min-probability to choose one yourself."
        )
    return float(head["write_threshold"])


def plan_mood(row: dict[str, Any], cut: float, overwrite: bool, overwrite_flag: str = "--overwrite") -> MoodPlan:
    """The mood action for one classified row (its file is known to be the classified one)."""
    path = str(row["path"])
    label, probability = row.get("mood"), cell_number(row.get("mood_probability"))
    if not isinstance(label, str) or not label or probability is None:
        return MoodPlan("none", "no mood in the table (a model without a mood head, or a table made before moods)")
    try:
        before = read_mood(path)
    except TagWriteError as exc:
        return MoodPlan("skip", str(exc), label, probability)
    current = tuple(v for v in before.shown if v.strip())
    if probability < cut:
        return MoodPlan("below", f"mood probability {probability:.3f} is under {cut:.3f}", label, probability, current)
    if [c.casefold() for c in current] == [label.casefold()]:
        return MoodPlan("same", "already has this mood", label, probability, current, before)
    if current and not overwrite:
        shown = "; ".join(current)
        return MoodPlan("keep", f"keeps its mood '{shown}' ({overwrite_flag} replaces it)", label, probability, current)
    if is_read_only(os.path.realpath(path)):
        return MoodPlan("skip", "the file is read-only", label, probability, current)
    reason = f"replaces '{'; '.join(current)}'" if current else "no mood yet"
    return MoodPlan("write", reason, label, probability, current, before, with_mood(before, (label,)))


def apply_moods(
    paths_and_plans: list[tuple[str, MoodPlan]], journal: Journal, sync: TableSync
) -> KeyboardInterrupt | None:
    """Write each planned mood: journalled first, then written atomically (in place for hard links).

    Returns the interrupt that stopped it (the mood in flight settled as it really is, the rest not written).
    """
    for number, (path, plan) in enumerate(paths_and_plans):
        if plan.action != "write":
            continue
        try:
            write_mood(path, plan, journal, sync)
        except KeyboardInterrupt as exc:
            plan.action, plan.reason = "skip", "not written: interrupted"
            if holds(path, plan.after):
                plan.action, plan.reason = "written", "written just before the interrupt"
                sync.touched(path)
            for _, rest in paths_and_plans[number + 1 :]:
                rest.action, rest.reason = "skip", "not written: interrupted"
            return exc
    return None


def write_mood(path: str, plan: MoodPlan, journal: Journal, sync: TableSync) -> None:
    assert plan.before is not None and plan.after is not None
    try:
        if not read_mood(path).same_values(plan.before):
            plan.action, plan.reason = "skip", "its mood changed since the plan was made"
            return
        plan.in_place = journal.write(path, plan.before, plan.after, plan.label, plan.probability) == "in place"
    except TagWriteError as exc:
        plan.action, plan.reason = "failed", str(exc)
        return
    plan.action = "written"
    sync.touched(path)
