"""Tag a whole music library: one row per file, resumable, on one machine or Ray.

Rows are written in chunks as complete Parquet part files beside the output
(`OUT.parts/`), then merged into the output atomically. A crash loses at most
the chunk in flight; Ctrl-C merges what is done; a re-run skips every file
already recorded with the same size and modification time, including files
that failed (their error is the answer until the file changes).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pandas as pd

from .export import MOOD_COLUMNS, OUTSIDE_COLUMNS, mood_cells
from .interrupts import exit_status
from .library import find_audio_files
from .library_map import TSNE_MIN_SONGS, preload_tsne
from .library_table import rows_without_embedding, with_map
from .models.registry import resolve_model
from .models.song_embedding import TABLE_DTYPE
from .table_io import matches_record, model_id, read_table, write_table
from .tags.albums import ALBUM_COLUMNS, read_album_tags, read_title

CHUNK_ROWS = 64


@dataclass(frozen=True)
class TagOptions:
    model: str | None = None
    strategy: str = "spread"
    aggregate: str = "mean"
    device: str = "cpu"
    runtime: str = "auto"
    #: Threads of each worker's model (ONNX Runtime or torch); workers × threads should not exceed the cores.
    threads: int = 1
    #: The library folder, absolute (set by `tag_library`).
    root: str | None = None


def model_embeds(model: str | Path | None) -> bool:
    """Whether the model stores a song embedding (`python -m genre_core embedding` chose one for it)."""
    from .classifier import load_info

    return bool(load_info(resolve_model(model)).calibration.get("embedding"))


def tag_file(classifier: Any, path: str, options: TagOptions, mid: str) -> dict[str, Any]:
    """Classify one file into a flat row; failures become a row with `error`."""
    from .errors import GenreCoreError

    try:
        stat = os.stat(path)
        size, mtime, missing = stat.st_size, stat.st_mtime, None
    except OSError as exc:  # removed or unreadable since the folder was listed
        size, mtime, missing = None, None, f"cannot read the file: {exc.strerror or exc}"
    row: dict[str, Any] = {
        "path": path,
        # The path inside the library folder, by which a moved library is matched again (`pending_files`).
        "relpath": os.path.relpath(path, options.root) if options.root else None,
        "size": size,
        "mtime": mtime,
        "duration_s": None,
        "genre": None,
        "probability": None,
        "top3": None,
        **{f"p_{g}": None for g in classifier.labels},
        "other_probability": None,
        "is_other": None,
        **dict.fromkeys(OUTSIDE_COLUMNS),
        **dict.fromkeys(MOOD_COLUMNS),
        "mood_quadrant": None,
        **dict.fromkeys(ALBUM_COLUMNS),
        "title": None,
        #: The unit-length song embedding (float16) that `similar` and `playlist` compare; None without one.
        "embedding": None,
        "strategy": options.strategy,
        "aggregate": options.aggregate,
        "model_id": mid,
        "error": None,
    }
    if missing:
        row["error"] = missing
        return row
    row.update(read_album_tags(path))  # album, album artist, artist, track: `write-tags --per album` groups by them
    row["title"] = read_title(path)  # what `similar` and `playlist` show
    try:
        pred = classifier.predict(path, strategy=options.strategy)
    except GenreCoreError as exc:
        row["error"] = str(exc)
        return row
    except Exception as exc:  # one odd file must never stop a library run
        row["error"] = f"unexpected {type(exc).__name__}: {exc}"
        return row
    probs = pred.aggregate(options.aggregate)
    top = pred.top_k(3, options.aggregate)
    row.update(
        {
            "duration_s": round(pred.duration_s, 3),
            "genre": top[0][0],
            "probability": float(top[0][1]),
            "top3": json.dumps([{"genre": g, "probability": round(p, 6)} for g, p in top]),
            "other_probability": pred.other_probability,
            "is_other": pred.is_other,
            "outside_genre": pred.outside["genre"] if pred.outside else None,
            "outside_probability": pred.outside["probability"] if pred.outside else None,
            **dict(zip(MOOD_COLUMNS, [v if v != "" else None for v in mood_cells(pred.mood)], strict=True)),
            "mood_quadrant": pred.mood["quadrant"] if pred.mood else None,
            "embedding": pred.embedding.astype(TABLE_DTYPE) if pred.embedding is not None else None,
        }
    )
    row.update({f"p_{g}": float(p) for g, p in zip(classifier.labels, probs, strict=True)})
    return row


# ---- output: parts + atomic merge -------------------------------------------------------------


class ChunkedOutput:
    """Part files written as chunks complete; `merge` makes the final file."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.parts = out.with_name(out.name + ".parts")
        self.parts.mkdir(parents=True, exist_ok=True)

    def done(self, frame: pd.DataFrame | None = None) -> dict[str, tuple[int, float]]:
        """path → (size, mtime) of every file already recorded (of `frame`, where the caller has read it)."""
        frame = self.read_all() if frame is None else frame
        if frame.empty:
            return {}
        return {p: (int(s), float(m)) for p, s, m in zip(frame["path"], frame["size"], frame["mtime"], strict=True)}

    def repoint(self, moved: dict[str, str]) -> None:
        """Rows of files that moved (old path → new path) follow them; the table is rewritten whole."""
        if not moved:
            return
        frame = self.read_all()
        frame["path"] = frame["path"].replace(moved)
        write_table(frame, self.out)
        for part in self.parts.glob("part-*.parquet"):
            part.unlink()

    def read_all(self) -> pd.DataFrame:
        frames = [read_table(self.out)] if self.out.exists() else []
        frames += [pd.read_parquet(p) for p in sorted(self.parts.glob("part-*.parquet"))]
        frames = [f for f in frames if not f.empty]
        if not frames:
            return pd.DataFrame()
        return pd.concat(frames, ignore_index=True).drop_duplicates("path", keep="last")

    def write_chunk(self, rows: list[dict[str, Any]]) -> None:
        if not rows:
            return
        name = f"part-{time.time_ns()}-{os.getpid()}.parquet"
        tmp = self.parts / f".{name}.tmp"
        pd.DataFrame(rows).to_parquet(tmp, index=False)
        tmp.rename(self.parts / name)  # a part exists whole or not at all

    def merge(self) -> pd.DataFrame:
        frame = self.read_all()
        if frame.empty:
            frame = pd.DataFrame({"path": pd.Series(dtype=str)})
        else:
            frame = frame.sort_values("path", kind="stable").reset_index(drop=True)
        write_table(frame, self.out)
        for part in self.parts.glob("part-*.parquet"):
            part.unlink()
        self.parts.rmdir()
        return frame


def pending_files(root: Path, output: ChunkedOutput, embeds: bool = False) -> tuple[list[str], int, dict[str, str]]:
    """Files still to tag, how many were skipped as already done, and rows that moved (old → new path).

    `embeds`: the model stores a song embedding, so rows without one are classified again.

    A moved or renamed library folder: a file whose path inside the library, size and modification time
    match a row whose file is gone is the same file (a move keeps both), so its row follows it unclassified.
    """
    frame = output.read_all()
    done = output.done(frame)  # the table and its parts are read once
    gone_by_relpath: dict[str, str] = {}
    if "relpath" in frame.columns:
        for path, relpath in zip(frame["path"], frame["relpath"], strict=True):
            if isinstance(relpath, str) and not os.path.exists(path):
                gone_by_relpath[relpath] = path
    unembedded = rows_without_embedding(frame) if embeds else set()
    todo, skipped, moved = [], 0, {}
    for path in find_audio_files(root):
        key, stat = str(path), path.stat()
        old = gone_by_relpath.get(os.path.relpath(key, root))
        if key in done and matches_record(stat, *done[key]) and key not in unembedded:
            skipped += 1
        elif old is not None and matches_record(stat, *done[old]):
            moved[old] = key
            skipped += 1
        else:
            todo.append(key)
    return todo, skipped, moved


# ---- engines ----------------------------------------------------------------------------------

_worker: dict[str, Any] = {}


def _init_worker(options: TagOptions, mid: str, ignore_interrupt: bool = False) -> None:
    import signal

    if ignore_interrupt:  # Ctrl-C and SIGTERM are the driver's to handle: it merges what is done
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    from .classifier import GenreClassifier

    classifier = GenreClassifier.load(
        options.model, device=options.device, runtime=options.runtime, threads=options.threads
    )
    _worker.update(classifier=classifier, options=options, mid=mid)


def _tag_in_worker(path: str) -> dict[str, Any]:
    return tag_file(_worker["classifier"], path, _worker["options"], _worker["mid"])


def run_local(files: list[str], options: TagOptions, workers: int, mid: str) -> Iterator[dict[str, Any]]:
    """A process pool sized to the cores; each worker loads the classifier once."""
    if workers <= 1:
        _init_worker(options, mid)
        yield from (_tag_in_worker(p) for p in files)
        return
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(options, mid, True)) as pool:
        # One song per task: a song takes ~0.3 s against ~1 ms to hand it over, and larger chunks left one
        # worker idle for up to three songs at the end of a run.
        yield from pool.map(_tag_in_worker, files, chunksize=1)


class RayTagger:
    """Ray Data actor: loads the classifier once, tags a batch of paths."""

    def __init__(self, options: TagOptions, mid: str) -> None:
        _init_worker(options, mid)

    def __call__(self, batch: dict[str, Any]) -> dict[str, list[Any]]:
        rows = [_tag_in_worker(str(p)) for p in batch["path"]]
        return {key: [r[key] for r in rows] for key in rows[0]}


def run_ray(
    files: list[str], options: TagOptions, workers: int, mid: str, address: str | None, gpus_per_worker: float
) -> Iterator[dict[str, Any]]:
    """Ray Data over the file list; results stream back to the driver, which writes parts."""
    import ray

    started_here = not ray.is_initialized()
    if started_here:
        if address:
            ray.init(address=address, log_to_driver=False)
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        dataset = ray.data.from_items([{"path": p} for p in files])
        tagged = dataset.map_batches(
            RayTagger,
            fn_constructor_args=(options, mid),
            batch_size=8,
            concurrency=workers,
            num_cpus=1,
            num_gpus=gpus_per_worker,
            batch_format="numpy",
        )
        for batch in tagged.iter_batches(batch_size=CHUNK_ROWS, batch_format="pandas"):
            yield from batch.to_dict("records")
    finally:
        if started_here:
            ray.shutdown()


def tag_library(
    root: str | Path,
    out: str | Path,
    options: TagOptions,
    engine: str = "local",
    workers: int | None = None,
    address: str | None = None,
    gpus_per_worker: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Tag every audio file under `root` into `out`; resumable; returns a summary.

    Paths are stored absolute, so the table works from any folder, with each file's path inside `root`
    beside it, so the table follows the library when it moves (`pending_files`).
    """
    root, out = Path(os.path.abspath(root)), Path(out)
    output = ChunkedOutput(out)
    embeds = model_embeds(options.model)
    files, skipped, moved = pending_files(root, output, embeds=embeds)
    output.repoint(moved)
    options = replace(options, root=str(root))
    workers = workers or os.cpu_count() or 1
    mid = model_id(options.model)
    rows: Iterable[dict[str, Any]]
    if engine == "ray":
        rows = run_ray(files, options, workers, mid, address, gpus_per_worker)
    else:
        rows = run_local(files, options, workers, mid)
    chunk: list[dict[str, Any]] = []
    done = failed = 0
    started = time.perf_counter()
    interrupted: KeyboardInterrupt | None = None
    if progress:
        progress(0, len(files))  # the bar starts now, at the files left: resumed files never inflate the rate
    try:
        for row in rows:
            chunk.append(row)
            done += 1
            if done == 1 and embeds and len(files) + skipped >= TSNE_MIN_SONGS:
                preload_tsne()  # the workers have forked by now: the end-of-run map's imports overlap the songs
            failed += row["error"] is not None
            if progress:
                progress(done, len(files))
            if len(chunk) >= CHUNK_ROWS:
                output.write_chunk(chunk)
                chunk = []
    except KeyboardInterrupt as exc:
        interrupted = exc
    finally:
        output.write_chunk(chunk)
        frame = output.merge()
    if interrupted is None and (done or moved or "map_x" not in frame.columns):
        mapped = with_map(frame)
        if mapped is not frame:
            frame = mapped
            write_table(frame, out)
    seconds = time.perf_counter() - started
    return {
        "output": str(out),
        "tagged": done,
        "failed": failed,
        "skipped": skipped,
        "moved": len(moved),
        "rows": len(frame),
        "seconds": round(seconds, 2),
        "files_per_s": round(done / seconds, 2) if seconds else None,
        "engine": engine,
        "workers": workers,
        "interrupted": interrupted is not None,
        #: The exit status the interrupt owes the shell (130 Ctrl-C, 143 SIGTERM), or None.
        "exit_status": exit_status(interrupted) if interrupted is not None else None,
    }


def print_progress() -> Callable[[int, int], None]:
    """A tqdm bar (files/s and ETA) on stderr over the files left to classify, started before the first."""
    from tqdm import tqdm

    bar: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, unit="file", file=sys.stderr)
        if done:
            bar["bar"].update(done - bar["bar"].n)
        if done == total:
            bar["bar"].close()

    return update


def summary_line(summary: dict[str, Any]) -> str:
    """The run in one line: classified, skipped (already in the table), failed, and the rate of the classified."""
    rate = f" ({summary['files_per_s']} files/s)" if summary["tagged"] and summary["files_per_s"] else ""
    return (
        f"{summary['tagged'] - summary['failed']} classified, {summary['skipped']} skipped (already in the table), "
        f"{summary['failed']} failed in {summary['seconds']} s{rate}"
        + (f"; {summary['moved']} rows followed their moved files" if summary.get("moved") else "")
    )
