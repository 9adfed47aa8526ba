"""Keep a tag table's size and mtime in step with the files that `write-tags` itself rewrites.

A table row is trusted only while its file has the size and modification time it recorded
(`table_io.matches_record`). Writing tags changes both but not the audio, so every write, mood
write and undo records the file's new stat here as it goes; the table is rewritten every few
files and once more at the end, interrupted or not. Without it, the run after an `--undo` or a
Ctrl-C saw most files as "changed since it was classified" and the library had to be tagged again.
"""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

#: Files between two rewrites of the table: a crash loses at most this many refreshes.
FLUSH_EVERY = 16


class TableSync:
    """The rows of one tag table, refreshed file by file; a no-op without a table (e.g. an old journal's)."""

    def __init__(self, table_path: str | Path | None) -> None:
        self.path = Path(table_path) if table_path else None
        self._frame: pd.DataFrame | None = None
        self._rows: dict[str, int] = {}
        self._pending = 0

    def _load(self) -> pd.DataFrame | None:
        if self._frame is None and self.path is not None and self.path.is_file():
            from ..table_io import read_table

            self._frame = read_table(self.path)
            for index, path in self._frame["path"].items():
                self._rows[str(path)] = index
                self._rows.setdefault(os.path.realpath(str(path)), index)  # the journal records real paths
        return self._frame

    def touched(self, path: str) -> None:
        """Record the file's stat as it is now, after our own write or restore."""
        frame = self._load()
        index = self._rows.get(path, self._rows.get(os.path.realpath(path)))
        if frame is None or index is None:
            return
        try:
            stat = os.stat(path)
        except OSError:
            return
        frame.at[index, "size"], frame.at[index, "mtime"] = stat.st_size, stat.st_mtime
        self._pending += 1
        if self._pending >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        """Rewrite the table (atomically) when any row changed since the last flush."""
        if self._pending and self._frame is not None and self.path is not None:
            from ..table_io import write_table

            write_table(self._frame, self.path)
        self._pending = 0
