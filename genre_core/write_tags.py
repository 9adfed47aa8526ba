"""Write classified genres into the files themselves: plan, apply, journal, undo.

The input is a `python -m genre_core tag` table (path, size, mtime, genre,
probability, model_id). Nothing is written without `apply=True`; a dry run
returns the same plan. Before each file is written, its previous genre goes
into an append-only journal (JSON lines, flushed to disk), so the journal is
true even if the run dies mid-way; `undo` walks it backwards and restores a
file only while it still holds what was written.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from .checkpoint import SHIPPED_MODELS, load_checkpoint, resolve_model
from .errors import UsageError
from .filetags import GenreState, TagWriteError, is_read_only, read_genre, tag_name, with_genres, write_genre

JOURNAL_FORMAT = "genre_core write-tags journal"
JOURNAL_VERSION = 1

#: Planned actions, in the order a summary lists them.
ACTIONS = ("write", "written", "same", "keep", "below", "skip", "failed")
#: How our genres meet the ones a file has: replace them; append ours after them; merge, ours first.
MODES = ("replace", "append", "merge")


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
) -> tuple[str, str, tuple[str, ...]]:
    """What to do with one classified file: (action, reason, the genres it would hold).

    `labels`: the model's genre, or its genres in order (primary first); `probability` is the
    primary's. Shared by `write-tags` and the beets plugin.
    """
    current = [c for c in current if c.strip()]
    names = [tag_name(label) for label in ([labels] if isinstance(labels, str) else labels)]
    if probability < threshold:
        return "below", f"probability {probability:.3f} is under the threshold {threshold:.3f}", tuple(current)
    proposed = proposed_genres(current, names, mode)
    shown = "; ".join(current)
    if [c.casefold() for c in current] == [p.casefold() for p in proposed]:
        return "same", "already has " + ("these genres" if len(proposed) > 1 else "this genre"), proposed
    if mode == "replace" and current and not overwrite:
        return (
            "keep",
            f"keeps its genre '{shown}' (--overwrite replaces it; --mode append or merge adds)",
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
            if key.startswith("p_") and key[2:] != primary and _number(value) is not None
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

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["current"] = list(self.current)
        data["proposed"] = list(self.proposed)
        data["new"] = tag_name(self.genre) if self.genre else None
        data["before"] = self.before.to_json() if self.before else None
        data["after"] = self.after.to_json() if self.after else None
        return data


# ---- threshold --------------------------------------------------------------------------------


def measured_threshold(model: str | Path | None) -> Threshold | None:
    """The write threshold stored in a checkpoint by `calibrate`, or None if it has none."""
    path = resolve_model(model)
    measured = load_checkpoint(path).calibration.get("tag_threshold") or {}
    if measured.get("min_probability") is None:
        return None
    secondary = measured.get("secondary") or {}
    return Threshold(
        float(measured["min_probability"]),
        f"{path.name}: chosen for {measured['target_precision']:.0%} precision on valid",
        measured["valid"]["precision"],
        measured["valid"]["coverage"],
        secondary.get("min_probability"),
        f"{path.name}: chosen for {secondary['target_precision']:.0%} secondary precision on valid"
        if secondary.get("min_probability") is not None
        else "",
    )


def model_thresholds(model: str | None) -> dict[str, Threshold]:
    """model_id → its measured write threshold, for `model` or for every shipped model."""
    from .tagging import model_id

    paths = [resolve_model(model)] if model else list(SHIPPED_MODELS.values())
    found = {}
    for path in paths:
        if path.is_file() and (threshold := measured_threshold(path)) is not None:
            found[model_id(path)] = threshold
    return found


def thresholds_for(
    table: pd.DataFrame,
    model: str | None,
    min_probability: float | None,
    max_genres: int = 1,
    secondary_min_probability: float | None = None,
) -> dict[str, Threshold]:
    """The threshold of each model that classified rows of `table`; given numbers override them all."""
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
        known = _measured_thresholds(ids, model)
    else:  # the measured ones are read only for what a given threshold leaves open: the secondary one
        known = model_thresholds(model) if max_genres > 1 and secondary_min_probability is None else {}
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


def _measured_thresholds(ids: set[str], model: str | None) -> dict[str, Threshold]:
    known = model_thresholds(model)
    if ids and not ids & known.keys():
        raise UsageError(
            "no write threshold for the model that made this table: either `calibrate` found no probability at "
            "which its genres are right 90 % of the time on valid (the from-scratch crnn), or the table came from "
            "another checkpoint (--model PATH). Pass --min-probability to choose one yourself."
        )
    return {m: known[m] for m in ids if m in known}


# ---- plan -------------------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def changed_since(path: str, size: float | None, mtime: float | None) -> str | None:
    """Why the file is no longer the one that was classified, or None when it still is."""
    from .tagging import matches_record

    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return "vanished since it was classified"
    except OSError as exc:
        return f"cannot read the file: {exc.strerror or exc}"
    if size is None or mtime is None or not matches_record(stat, size, mtime):
        return "changed since it was classified (size or modification time differ): classify it again"
    return None


def plan_file(
    row: dict[str, Any],
    thresholds: dict[str, Threshold],
    overwrite: bool,
    mode: str = "replace",
    max_genres: int = 1,
) -> PlannedFile:
    path = str(row["path"])
    if isinstance(row.get("error"), str) and row["error"]:
        return PlannedFile(path, "skip", f"not classified: {row['error']}")
    threshold = thresholds.get(str(row.get("model_id")))
    if threshold is None:
        return PlannedFile(path, "skip", "classified by a model with no measured threshold (--min-probability)")
    changed = changed_since(path, _number(row.get("size")), _number(row.get("mtime")))
    if changed:
        return PlannedFile(path, "skip", changed)
    try:
        before = read_genre(path)
    except TagWriteError as exc:
        return PlannedFile(path, "skip", str(exc))
    label, probability = str(row["genre"]), float(row["probability"])
    labels = genres_to_write(row, threshold, max_genres)
    action, reason, proposed = decide(before.shown, labels, probability, threshold.min_probability, overwrite, mode)
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
) -> list[PlannedFile]:
    return [plan_file(row, thresholds, overwrite, mode, max_genres) for row in table.to_dict("records")]


# ---- journal ----------------------------------------------------------------------------------


class Journal:
    """Append-only JSON lines: a header, then one line per file, each on disk before the file is written."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def _append(self, record: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def start(self, source: str) -> None:
        if not self.path.exists() or self.path.stat().st_size == 0:
            self._append({"format": JOURNAL_FORMAT, "version": JOURNAL_VERSION, "source": source})

    def record(self, planned: PlannedFile) -> None:
        assert planned.before is not None and planned.after is not None
        self._append(
            {
                "path": os.path.realpath(planned.path),
                "before": planned.before.to_json(),
                "after": planned.after.to_json(),
                "genre": planned.genre,
                "probability": planned.probability,
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
        )

    def entries(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            raise UsageError(f"no journal at '{self.path}'")
        lines = self.path.read_text(encoding="utf-8").splitlines()
        try:
            records = [json.loads(line) for line in lines if line.strip()]
        except json.JSONDecodeError:
            # Only the last line can be torn (a crash while appending); its file was not written yet.
            records = [json.loads(line) for line in lines[:-1] if line.strip()]
        if not records or records[0].get("format") != JOURNAL_FORMAT:
            raise UsageError(f"'{self.path}' is not a write-tags journal")
        return records[1:]


def default_journal(table_path: str | Path) -> Path:
    return Path(f"{table_path}.undo.jsonl")


# ---- apply and undo ---------------------------------------------------------------------------


def apply_plan(planned: list[PlannedFile], journal: Journal) -> bool:
    """Write every planned file; False when Ctrl-C stopped the run.

    Each file is journalled, then written atomically; after Ctrl-C the file in
    flight is reported as it really is (written or not) and the rest as not written.
    """
    journal.start(source="write-tags")
    pending = [item for item in planned if item.action == "write"]
    for number, item in enumerate(pending):
        assert item.before is not None and item.after is not None
        try:
            now = read_genre(item.path)
            if not now.same_values(item.before):
                item.action, item.reason = "skip", "its genre changed since the plan was made"
                continue
            journal.record(item)
            item.in_place = write_genre(item.path, item.after) == "in place"
        except TagWriteError as exc:
            item.action, item.reason = "failed", str(exc)
            continue
        except KeyboardInterrupt:
            for rest in pending[number:]:
                rest.action, rest.reason = "skip", "not written: interrupted"
            try:
                if read_genre(item.path).same_values(item.after):
                    item.action, item.reason = "written", "written just before the interrupt"
            except TagWriteError:
                pass
            return False
        item.action = "written"
    return True


@dataclass
class UndoneFile:
    path: str
    action: str  # restored | unchanged | skip | failed
    reason: str


def undo(journal: Journal) -> list[UndoneFile]:
    """Restore each journalled file's previous genre, newest first, where it still holds what was written."""
    results = []
    for entry in reversed(journal.entries()):
        path, before, after = entry["path"], GenreState.from_json(entry["before"]), GenreState.from_json(entry["after"])
        try:
            now = read_genre(path)
        except TagWriteError as exc:
            reason = "vanished" if not os.path.exists(path) else str(exc)
            results.append(UndoneFile(path, "skip", reason))
            continue
        if now.same_values(before):
            results.append(UndoneFile(path, "unchanged", "already holds its previous genre"))
        elif not now.same_values(after):
            shown = "; ".join(now.shown) or "no genre"
            results.append(UndoneFile(path, "skip", f"its genre was changed since ({shown}): left as it is"))
        else:
            try:
                write_genre(path, before)
            except TagWriteError as exc:
                results.append(UndoneFile(path, "failed", str(exc)))
                continue
            results.append(UndoneFile(path, "restored", "previous genre: " + ("; ".join(before.shown) or "none")))
    return results


def refresh_table(table_path: Path, table: pd.DataFrame, planned: list[PlannedFile]) -> None:
    """Record the new size and mtime of written files, so the table still matches them.

    Only tags changed, not the audio, so the classification still holds: a
    later `tag` run skips these files and a later `write-tags` can act on them.
    """
    from .tagging import write_table

    written = {p.path for p in planned if p.action == "written"}
    if not written:
        return
    table = table.copy()
    for index, path in table["path"].items():
        if path in written:
            stat = os.stat(path)
            table.at[index, "size"], table.at[index, "mtime"] = stat.st_size, stat.st_mtime
    write_table(table, table_path)


def summarise(planned: list[PlannedFile]) -> dict[str, int]:
    counts = Counter(p.action for p in planned)
    return {action: counts[action] for action in ACTIONS if counts[action]}


def plan_lines(planned: list[PlannedFile]) -> list[str]:
    """A fixed-width table: action, probability, existing → proposed genres, file."""
    rows = [("action", "p", "existing → proposed", "file / reason")]
    for p in planned:
        prob = f"{p.probability:.2f}" if p.probability is not None else "-"
        existing = "; ".join(p.current) or "-"
        change = f"{existing} → {'; '.join(p.proposed) or '-'}" if p.action in ("write", "written") else existing
        detail = p.path if p.action in ("write", "written") else f"{p.path}: {p.reason}"
        if p.in_place:
            detail += "  (hard link: written in place)"
        rows.append((p.action, prob, change, detail))
    widths = [min(max(len(r[i]) for r in rows), 40) for i in range(3)]
    return ["  ".join(f"{c:<{w}}" for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3] for r in rows]
