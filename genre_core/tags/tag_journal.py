"""The undo journal of `write-tags`: append-only JSON lines, one run per `--apply`, and walking them back.

Each `--apply` starts a run (a numbered header line naming its table). Before each file is written, its
previous genres or mood go into the journal (flushed to disk) under that run, so the journal is true even if
the run dies mid-way. `undo` walks one run (the last, by default) backwards and restores a file only while it
still holds what was written; each entry it restores, or finds already restored, is marked undone in the same
journal, so a later undo never replays it. A write that failed is marked too: undo has nothing to restore.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import UsageError
from .filetags import GenreState, TagWriteError, holds, read_field, write_genre
from .table_sync import TableSync

JOURNAL_FORMAT = "genre_core write-tags journal"

#: 2: runs and marks (1: one undo replayed every entry ever written).
JOURNAL_VERSION = 2


class Journal:
    """Append-only JSON lines: a header, then per run a run line and one line per file, each on disk first."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.run: int | None = None
        self._entries = 0

    def _append(self, record: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def start(self, source: str, table: str | Path | None = None) -> int:
        """Begin a run; returns its number (1, 2, ...). `table`: the tag table whose stats undo keeps in step."""
        if not self.path.exists() or self.path.stat().st_size == 0:
            self._append({"format": JOURNAL_FORMAT, "version": JOURNAL_VERSION, "source": source})
            previous = 0
        else:
            previous = max((r["run"] for r in self.runs()), default=0)
        self.run, self._entries = previous + 1, 0
        self._append(
            {
                "run": self.run,
                "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                "table": os.path.abspath(table) if table else None,
            }
        )
        return self.run

    def record(
        self, path: str, before: GenreState, after: GenreState, genre: str | None, probability: float | None
    ) -> str:
        """One file's field before and after, on disk before the file itself is written; returns the entry's id."""
        assert self.run is not None, "start() the run first"
        self._entries += 1
        entry = f"{self.run}.{self._entries}"
        self._append(
            {
                "id": entry,
                "run": self.run,
                "path": os.path.realpath(path),
                "before": before.to_json(),
                "after": after.to_json(),
                "genre": genre,
                "probability": probability,
                "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
        )
        return entry

    def write(
        self, path: str, before: GenreState, after: GenreState, label: str | None, probability: float | None
    ) -> str:
        """Journal the change, then make it (`write_genre`'s "replaced" or "in place"); a failed write is marked,
        so undo never replays it, and its TagWriteError raised."""
        entry = self.record(path, before, after, label, probability)
        try:
            return write_genre(path, after)
        except TagWriteError:
            self.mark(entry, "failed")
            raise

    def mark(self, entry: str, state: str) -> None:
        """`state`: undone (restored, or found as it was) or failed (the write did not happen)."""
        self._append({"mark": entry, "state": state, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")})

    def _records(self) -> list[dict[str, Any]]:
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

    def runs(self) -> list[dict[str, Any]]:
        """Run headers, oldest first; a version-1 journal is one run, numbered 1, with no table."""
        records = self._records()
        runs = [r for r in records if "run" in r and "path" not in r and "mark" not in r]
        if not runs and any("path" in r for r in records):
            return [{"run": 1, "started": None, "table": None}]
        return runs

    def entries(self, run: int | None = None) -> list[dict[str, Any]]:
        """File entries (of one run, or all), each with `state`: written, undone or failed."""
        records = self._records()
        marks = {r["mark"]: r["state"] for r in records if "mark" in r}
        out = []
        for number, r in enumerate((r for r in records if "path" in r), start=1):
            r = {**r, "run": r.get("run", 1), "id": r.get("id", f"1.{number}")}
            if run is None or r["run"] == run:
                out.append({**r, "state": marks.get(r["id"], "written")})
        return out


def default_journal(table_path: str | Path) -> Path:
    return Path(f"{table_path}.undo.jsonl")


@dataclass
class UndoneFile:
    path: str
    action: str  # restored | unchanged | skip | failed | not undone
    reason: str


@dataclass
class UndoReport:
    """One undo: the run it walked back, what happened to each of its files, and whether it was interrupted."""

    run: int | None
    files: list[UndoneFile]
    already: int = 0  # entries of the run undone before
    interrupted: BaseException | None = None


def choose_runs(journal: Journal, run: int | None, every: bool) -> list[int]:
    """The runs to undo, newest first: one given, every one, or the last."""
    runs = [r["run"] for r in journal.runs()]
    if not runs:
        raise UsageError(f"'{journal.path}' records no run")
    if every:
        return runs[::-1]
    if run is None:
        return [runs[-1]]
    if run not in runs:
        raise UsageError(f"'{journal.path}' has no run {run} (its runs: {', '.join(map(str, runs))})")
    return [run]


def undo(journal: Journal, run: int | None = None, every: bool = False) -> list[UndoReport]:
    """Restore each journalled file's previous field, newest first, where it still holds what was written.

    Ctrl-C (or SIGTERM) stops between files: what was restored stays restored and marked, the rest is
    reported as not undone, and the table keeps the stats of every file restored.
    """
    tables = {r["run"]: r.get("table") for r in journal.runs()}
    reports = []
    for number in choose_runs(journal, run, every):
        recorded = journal.entries(number)  # the journal is read once per run undone
        entries = [e for e in recorded if e["state"] == "written"]
        already = sum(e["state"] == "undone" for e in recorded)
        report = UndoReport(number, [], already)
        reports.append(report)
        sync = TableSync(tables.get(number))
        try:
            for position, entry in enumerate(reversed(entries)):
                try:
                    report.files.append(undo_entry(journal, entry, sync))
                except KeyboardInterrupt as exc:
                    report.interrupted = exc
                    flight, *rest = list(reversed(entries))[position:]
                    report.files.append(settle_in_flight(journal, flight, sync))
                    report.files += [UndoneFile(e["path"], "not undone", "interrupted") for e in rest]
                    break
        finally:
            sync.flush()
        if report.interrupted:
            break
    return reports


def undo_entry(journal: Journal, entry: dict[str, Any], sync: TableSync) -> UndoneFile:
    path, before, after = entry["path"], GenreState.from_json(entry["before"]), GenreState.from_json(entry["after"])
    try:
        now = read_field(path, before.field)
    except TagWriteError as exc:
        return UndoneFile(path, "skip", "vanished" if not os.path.exists(path) else str(exc))
    if now.same_values(before):
        journal.mark(entry["id"], "undone")
        return UndoneFile(path, "unchanged", f"already holds its previous {before.field}")
    if not now.same_values(after):
        shown = "; ".join(now.shown) or f"no {before.field}"
        return UndoneFile(path, "skip", f"its {before.field} was changed since ({shown}): left as it is")
    try:
        write_genre(path, before)
    except TagWriteError as exc:
        return UndoneFile(path, "failed", str(exc))
    sync.touched(path)
    journal.mark(entry["id"], "undone")
    previous = "; ".join(before.shown) or "none"
    return UndoneFile(path, "restored", f"previous {before.field}: {previous}")


def settle_in_flight(journal: Journal, entry: dict[str, Any], sync: TableSync) -> UndoneFile:
    """The file an interrupt caught: restored (its rename happened) or not, never half; the table and marks follow."""
    if not holds(entry["path"], GenreState.from_json(entry["before"])):
        return UndoneFile(entry["path"], "not undone", "interrupted")
    sync.touched(entry["path"])
    journal.mark(entry["id"], "undone")
    return UndoneFile(entry["path"], "restored", "restored just before the interrupt")
