"""Write classified genres into the files themselves: plan and apply.

The input is a `python -m genre_core tag` table (path, size, mtime, genre,
probability, model_id). Nothing is written without `apply=True`; a dry run
returns the same plan. Each file is journalled (`tag_journal`) before it is
written; the thresholds come from `write_thresholds`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import UsageError
from ..export import cell_number, cell_text
from ..table_io import matches_record
from .filetags import GenreState, TagWriteError, holds, is_read_only, read_genre, tag_name, with_genres
from .genre_names import GenreNames, spelled
from .table_sync import TableSync
from .tag_journal import Journal
from .write_moods import MoodPlan, apply_moods, plan_mood
from .write_thresholds import Threshold

#: Planned actions, in the order a summary lists them.
ACTIONS = ("write", "written", "same", "keep", "below", "other", "skip", "failed")
#: How our genres meet the ones a file has: replace them; append ours after them; merge, ours first.
MODES = ("replace", "append", "merge")


@dataclass(frozen=True)
class Flags:
    """The options a hint may name: `write-tags`' own, or the beets plugin's (whose overwrite is -f/--force)."""

    include_other: str = "--include-other"
    min_probability: str = "--min-probability"
    overwrite: str = "--overwrite"


CLI_FLAGS = Flags()


def proposed_genres(current: Iterable[str], names: Iterable[str], mode: str) -> tuple[str, ...]:
    """The genre list a file ends with: `names` (tag spellings) replacing, after, or before `current`."""
    if mode not in MODES:
        raise UsageError(f"unknown mode '{mode}' (known: {', '.join(MODES)})")
    current, names = [c for c in current if c.strip()], list(names)
    order = names if mode == "replace" else current + names if mode == "append" else names + current
    seen: set[str] = set()
    out = []
    for value in order:
        if value.casefold() not in seen:
            seen.add(value.casefold())
            out.append(value)
    return tuple(out)


def decide(
    current: Iterable[str],
    labels: str | list[str],
    probability: float,
    threshold: float,
    overwrite: bool,
    mode: str = "replace",
    genre_names: GenreNames | None = None,
    flags: Flags = CLI_FLAGS,
) -> tuple[str, str, tuple[str, ...]]:
    """What to do with one classified file: (action, reason, the genres it would hold).

    `labels`: the model's genre, or its genres in order (primary first); `probability` is the
    primary's. Shared by `write-tags` and the beets plugin.
    """
    current = [c for c in current if c.strip()]
    labels = [labels] if isinstance(labels, str) else labels
    names = [name for label in labels for name in spelled(label, genre_names)]
    if probability < threshold:
        return "below", f"probability {probability:.3f} is under the threshold {threshold:.3f}", tuple(current)
    proposed = proposed_genres(current, names, mode)
    shown = "; ".join(current)
    if [c.casefold() for c in current] == [p.casefold() for p in proposed]:
        return "same", "already has " + ("these genres" if len(proposed) > 1 else "this genre"), proposed
    if mode == "replace" and current and not overwrite:
        return (
            "keep",
            f"keeps its genre '{shown}' ({flags.overwrite} replaces it; --mode append or merge adds)",
            tuple(current),
        )
    if not current:
        return "write", "no genre yet", proposed
    if mode == "replace":
        return "write", f"replaces '{shown}'", proposed
    added = [p for p in proposed if p.casefold() not in {c.casefold() for c in current}]
    if mode == "append":
        return "write", f"adds '{'; '.join(added)}' after '{shown}'", proposed
    return "write", f"puts '{'; '.join(names)}' first, keeps '{shown}'", proposed


def genres_to_write(row: dict[str, Any], threshold: Threshold, max_genres: int) -> list[str]:
    """The primary genre, then up to `max_genres - 1` others whose probability reaches the secondary threshold."""
    primary = str(row["genre"])
    if max_genres <= 1 or threshold.secondary_min_probability is None:
        return [primary]
    others = sorted(
        (
            (float(value), key[2:])
            for key, value in row.items()
            if key.startswith("p_") and key[2:] != primary and cell_number(value) is not None
        ),
        reverse=True,
    )
    return [primary] + [g for p, g in others[: max_genres - 1] if p >= threshold.secondary_min_probability]


@dataclass
class PlannedFile:
    path: str
    action: str
    reason: str
    genre: str | None = None
    probability: float | None = None
    current: tuple[str, ...] = ()
    before: GenreState | None = None
    after: GenreState | None = None
    #: The genres the file holds after the write (existing → proposed), in order.
    proposed: tuple[str, ...] = ()
    #: Written by mutagen in place (a hard-linked file), not through a renamed copy.
    in_place: bool = False
    #: The mood field's own plan (`write-tags --moods`), or None when moods are not written.
    mood: MoodPlan | None = None
    #: Held back as other music: "none of the ten" (the verdict) or "may be none" (the cut for writing).
    held: str | None = None
    #: The flags that would write a held-back file (None: it already holds the genre).
    unlock: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["current"] = list(self.current)
        data["proposed"] = list(self.proposed)
        data["new"] = tag_name(self.genre) if self.genre else None
        data["before"] = self.before.to_json() if self.before else None
        data["after"] = self.after.to_json() if self.after else None
        data["mood"] = self.mood.to_dict() if self.mood else None
        data["unlock"] = list(self.unlock) if self.unlock is not None else None
        return data


# ---- plan -------------------------------------------------------------------------------------

#: A file gone from its path. `tag` on the moved folder matches it by its path inside the library, size and
#: modification time (`tagging.pending_files`), without classifying it again.
VANISHED = "vanished since it was classified"


def changed_since(path: str, size: float | None, mtime: float | None) -> str | None:
    """Why the file is no longer the one that was classified, or None when it still is."""
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return f"{VANISHED}; if the library moved, `python -m genre_core tag NEW_FOLDER --out TABLE` follows it"
    except OSError as exc:
        return f"cannot read the file: {exc.strerror or exc}"
    if size is None or mtime is None or not matches_record(stat, size, mtime):
        return "changed since it was classified (size or modification time differ): classify it again"
    return None


def verdict_of(row: dict[str, Any]) -> bool | None:
    """The row's open-set verdict: True (none of the ten genres), False, or None (a table made before it)."""
    value = row.get("is_other")
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value).lower() in ("true", "1", "1.0") if isinstance(value, str) else bool(value)


def has_verdicts(table: pd.DataFrame) -> bool:
    """Whether the table records the open-set verdict (tables made before it do not)."""
    return "is_other" in table.columns


def held_back_as_other(row: dict[str, Any], threshold: Threshold) -> bool:
    """Whether the open-set check keeps this file's genre out: its verdict, or the stricter cut for writing."""
    if verdict_of(row):
        return True
    p, cut = cell_number(row.get("other_probability")), threshold.max_other_probability
    return p is not None and cut is not None and p >= cut


def outside_to_write(row: dict[str, Any], threshold: Threshold) -> tuple[str, float] | None:
    """The family outside the ten to write for a song the verdict holds back, and its P(family | other), where
    it reaches the model's measured cut; None otherwise (or for a table made before the outside head)."""
    family = cell_text(row.get("outside_genre"))
    probability = cell_number(row.get("outside_probability"))
    cut = threshold.outside_min_probability
    if not verdict_of(row) or family is None or probability is None or cut is None or probability < cut:
        return None
    return family, probability


def decide_outside(
    current: Iterable[str],
    family: tuple[str, float],
    threshold: Threshold,
    overwrite: bool,
    mode: str,
    genre_names: GenreNames | None,
    flags: Flags = CLI_FLAGS,
) -> tuple[str, str, tuple[str, ...]]:
    """`decide` for a family outside the ten, at the family's own cut (`Threshold.outside_min_probability`, which
    `outside_to_write` has checked): the reason says it is one. Shared by `write-tags` and the beets plugin.
    """
    label, probability = family
    cut = threshold.outside_min_probability
    if cut is None:
        raise ValueError("no outside cut for this model: outside_to_write names no family without one")
    action, reason, proposed = decide(current, label, probability, cut, overwrite, mode, genre_names, flags)
    return action, f"outside the ten: {label}" + ("" if reason == "no genre yet" else f"; {reason}"), proposed


def held_kind(row: dict[str, Any]) -> str:
    """How sure the hold-back is: the verdict says none of the ten, or only the stricter cut for writing does."""
    return "may be none" if verdict_of(row) is False else "none of the ten"


def other_reason(row: dict[str, Any], threshold: Threshold | None = None, unlock: tuple[str, ...] | None = ()) -> str:
    """Why a file is held back as other music, and the flags that would write it (`unlocking_flags`).

    `unlock`: those flags; None when no flag would (the file already holds the genre); () names none.
    """
    p = cell_number(row.get("other_probability"))
    shown = f" (p_other {p:.2f})" if p is not None else ""
    if held_kind(row) == "may be none" and threshold is not None and threshold.max_other_probability is not None:
        why = f"may be none of the ten genres{shown}: writing needs p_other < {threshold.max_other_probability:.2f}"
    else:
        why = f"none of the ten genres{shown}: not written"
    if unlock is None:
        return f"{why}; it already holds this genre"
    return f"{why} ({' '.join(unlock)} writes it)" if unlock else why


def unlocking_flags(
    current: Iterable[str],
    labels: list[str],
    probability: float,
    threshold: Threshold,
    overwrite: bool,
    mode: str,
    genre_names: GenreNames | None,
    flags: Flags = CLI_FLAGS,
) -> tuple[str, ...] | None:
    """The flags with which a held-back file would be written, found by deciding it again with them.

    `--include-other` alone where that writes it; with `--min-probability P` where its genre is under the
    threshold, and the overwrite flag where it keeps a genre of its own; None where it already holds ours.
    """
    needed = [flags.include_other]
    action = decide(current, labels, probability, threshold.min_probability, overwrite, mode, genre_names)[0]
    if action == "below":
        needed.append(f"{flags.min_probability} {math.floor(probability * 100) / 100:.2f}")
        action = decide(current, labels, probability, 0.0, overwrite, mode, genre_names)[0]
    if action == "keep":
        needed.append(flags.overwrite)
    return None if action == "same" else tuple(needed)


@dataclass(frozen=True)
class PlanOptions:
    """How one `write-tags` run plans every file: the same for all rows, so decided once."""

    overwrite: bool
    mode: str = "replace"
    max_genres: int = 1
    include_other: bool = False
    mood_cut: float | None = None
    genres: bool = True
    genre_names: GenreNames | None = None
    outside: bool = True


def plan_file(row: dict[str, Any], thresholds: dict[str, Threshold], options: PlanOptions) -> PlannedFile:
    """The genre plan of one row and, with `mood_cut`, its mood plan (moods do not depend on the genre's)."""
    planned = plan_genre(row, thresholds, options)
    if options.mood_cut is not None and planned.before is not None:
        planned.mood = plan_mood(row, options.mood_cut, options.overwrite)
    return planned


def plan_genre(row: dict[str, Any], thresholds: dict[str, Threshold], options: PlanOptions) -> PlannedFile:
    overwrite, mode, max_genres, genre_names = options.overwrite, options.mode, options.max_genres, options.genre_names
    include_other, genres = options.include_other, options.genres
    path = str(row["path"])
    if isinstance(row.get("error"), str) and row["error"]:
        return PlannedFile(path, "skip", f"not classified: {row['error']}")
    threshold = thresholds.get(str(row.get("model_id")))
    if threshold is None and genres:
        return PlannedFile(path, "skip", "classified by a model with no measured threshold (--min-probability)")
    changed = changed_since(path, cell_number(row.get("size")), cell_number(row.get("mtime")))
    if changed:
        return PlannedFile(path, "skip", changed)
    try:
        before = read_genre(path)
    except TagWriteError as exc:
        return PlannedFile(path, "skip", str(exc))
    label, probability = str(row["genre"]), float(row["probability"])
    if not genres or threshold is None:
        reason = "moods only: genres are left as they are"
        return PlannedFile(path, "skip", reason, label, probability, before.shown, before)
    family = outside_to_write(row, threshold) if options.outside and not include_other else None
    if family is not None:
        label, probability = family
        action, reason, proposed = decide_outside(before.shown, family, threshold, overwrite, mode, genre_names)
    elif held_back_as_other(row, threshold) and not include_other:
        labels = genres_to_write(row, threshold, max_genres)
        unlock = unlocking_flags(before.shown, labels, probability, threshold, overwrite, mode, genre_names)
        planned = PlannedFile(
            path, "other", other_reason(row, threshold, unlock), label, probability, before.shown, before
        )
        planned.held, planned.unlock = held_kind(row), unlock
        return planned
    else:
        labels = genres_to_write(row, threshold, max_genres)
        action, reason, proposed = decide(
            before.shown, labels, probability, threshold.min_probability, overwrite, mode, genre_names
        )
    planned = PlannedFile(path, action, reason, label, probability, before.shown, before, proposed=proposed)
    if action == "write":
        if is_read_only(os.path.realpath(path)):
            planned.action, planned.reason = "skip", "the file is read-only"
        else:
            planned.after = with_genres(before, proposed)
    return planned


def plan_table(
    table: pd.DataFrame,
    thresholds: dict[str, Threshold],
    overwrite: bool,
    mode: str = "replace",
    max_genres: int = 1,
    include_other: bool = False,
    mood_cut: float | None = None,
    genres: bool = True,
    genre_names: GenreNames | None = None,
    outside: bool = True,
) -> list[PlannedFile]:
    options = PlanOptions(overwrite, mode, max_genres, include_other, mood_cut, genres, genre_names, outside)
    return [plan_file(row, thresholds, options) for row in table.to_dict("records")]


# ---- apply ------------------------------------------------------------------------------------


def apply_plan(
    planned: list[PlannedFile], journal: Journal, table_path: Path | None = None
) -> KeyboardInterrupt | None:
    """Write every planned genre, then every planned mood; the interrupt (Ctrl-C, SIGTERM) that stopped it, or None.

    Each file is journalled, then written atomically; after an interrupt the file in flight is reported as it
    really is (written or not) and the rest as not written. `table_path`: the tag table, whose size and mtime
    follow each written file as it goes, so the next run plans every file again without a re-`tag`.
    """
    journal.start(source="write-tags", table=table_path)
    sync = TableSync(table_path)
    pending = [item for item in planned if item.action == "write"]
    try:
        for number, item in enumerate(pending):
            try:
                write_one(item, journal, sync)
            except KeyboardInterrupt as exc:
                for rest in pending[number + 1 :]:
                    rest.action, rest.reason = "skip", "not written: interrupted"
                settle_in_flight(item, sync)
                for _, mood in mood_plans(planned):
                    mood.action, mood.reason = "skip", "not written: interrupted"
                return exc
        return apply_moods(mood_plans(planned), journal, sync)
    finally:
        sync.flush()


def mood_plans(planned: list[PlannedFile]) -> list[tuple[str, MoodPlan]]:
    return [(item.path, item.mood) for item in planned if item.mood is not None and item.mood.action == "write"]


def write_one(item: PlannedFile, journal: Journal, sync: TableSync) -> None:
    """One file's genres: checked unchanged since the plan, journalled, written; failures are its action."""
    assert item.before is not None and item.after is not None
    try:
        now = read_genre(item.path)
        if not now.same_values(item.before):
            item.action, item.reason = "skip", "its genre changed since the plan was made"
            return
        written = journal.write(item.path, item.before, item.after, item.genre, item.probability)
        item.in_place = written == "in place"
    except TagWriteError as exc:
        item.action, item.reason = "failed", str(exc)
        return
    item.action = "written"
    sync.touched(item.path)


def settle_in_flight(item: PlannedFile, sync: TableSync) -> None:
    """After an interrupt: the file in flight is written (its rename happened) or not, never half."""
    item.action, item.reason = "skip", "not written: interrupted"
    if holds(item.path, item.after):
        item.action, item.reason = "written", "written just before the interrupt"
        sync.touched(item.path)
