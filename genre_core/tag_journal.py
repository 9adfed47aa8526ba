"""The undo journal of `write-tags`: append-only JSON lines, and walking them back.

Before each file is written, its previous genres go into the journal (flushed to disk),
so the journal is true even if the run dies mid-way; `undo` walks it backwards and
restores a file only while it still holds what was written.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import UsageError
from .filetags import GenreState, TagWriteError, read_field, write_genre

JOURNAL_FORMAT = "genre_core write-tags journal"

JOURNAL_VERSION = 1


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

    def record(
        self, path: str, before: GenreState, after: GenreState, genre: str | None, probability: float | None
    ) -> None:
        """One file's genres before and after, written to disk before the file itself is."""
        self._append(
            {
                "path": os.path.realpath(path),
                "before": before.to_json(),
                "after": after.to_json(),
                "genre": genre,
                "probability": probability,
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
            now = read_field(path, before.field)
        except TagWriteError as exc:
            reason = "vanished" if not os.path.exists(path) else str(exc)
            results.append(UndoneFile(path, "skip", reason))
            continue
        if now.same_values(before):
            results.append(UndoneFile(path, "unchanged", f"already holds its previous {before.field}"))
        elif not now.same_values(after):
            shown = "; ".join(now.shown) or "no genre"
            results.append(UndoneFile(path, "skip", f"its {before.field} was changed since ({shown}): left as it is"))
        else:
            try:
                write_genre(path, before)
            except TagWriteError as exc:
                results.append(UndoneFile(path, "failed", str(exc)))
                continue
            previous = "; ".join(before.shown) or "none"
            results.append(UndoneFile(path, "restored", f"previous {before.field}: {previous}"))
    return results
