"""`predict`: classify audio files or folders; table, JSON or CSV on stdout."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from ..aggregate import METHODS
from ..errors import GenreCoreError, UsageError
from ..windows import ALL_STRATEGIES, DEFAULT_TIMELINE_HOP_S
from .options import add_device, add_model, add_runtime


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="classify audio files or folders")
    p.add_argument("paths", nargs="+", help="audio files, or folders of them")
    p.add_argument("--aggregate", choices=METHODS, default="mean")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--windows", choices=ALL_STRATEGIES, default="spread", help="timeline: every --hop seconds")
    p.add_argument("--hop", type=float, default=DEFAULT_TIMELINE_HOP_S, help="timeline hop in seconds")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    add_device(p)
    add_runtime(p)
    add_model(p)
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="songs classified at once (default: one per core for several files; the network then uses 1 thread each)",
    )
    p.set_defaults(run=run)


def expand_paths(paths: Iterable[str]) -> list[Path]:
    """Files as given; folders become their audio files (by extension or content), recursively."""
    from ..library import find_audio_files

    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += find_audio_files(path)
        elif path.exists():
            found.append(path)
        else:
            raise UsageError(f"'{raw}' does not exist")
    if not found:
        raise UsageError("no audio files found in the given paths")
    return found


def run(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from ..classifier import GenreClassifier
    from ..export import error_record

    files = expand_paths(args.paths)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    # Default: one job per core for batches; a single file keeps every thread for itself.
    jobs = args.jobs or min(os.cpu_count() or 1, len(files))
    # With several jobs, parallelism comes from the jobs, not from each matmul: one thread each.
    classifier = GenreClassifier.load(
        args.model, device=args.device, runtime=args.runtime, threads=1 if jobs > 1 else None
    )
    show_progress = len(files) > 1 and not args.quiet
    if show_progress:
        print(f"{classifier.info.path.name} on {classifier.runtime_name}", file=sys.stderr, flush=True)

    def classify(numbered: tuple[int, Path]) -> dict[str, Any]:
        number, path = numbered
        try:
            record = classifier.predict(path, strategy=args.windows, hop_s=args.hop).to_dict(
                args.aggregate, args.top_k, file=str(path)
            )
        except GenreCoreError as exc:
            record = error_record(str(path), str(exc))
        if show_progress:
            print(f"[{number}/{len(files)}] {path}", file=sys.stderr, flush=True)
        return record

    # predict() keeps no state, so threads may share one classifier; results keep the input order.
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(classify, enumerate(files, 1)))
    write_results(results, args.format, sys.stdout)
    return 1 if any(r["error"] for r in results) else 0


def write_results(results: Sequence[dict[str, Any]], fmt: str, out: Any) -> None:
    from ..config import display_genre
    from ..export import results_csv, results_json, tag_summary

    if fmt == "json":
        out.write(results_json(results))
    elif fmt == "csv":
        out.write(results_csv(results))
    else:
        for r in results:
            if r["error"]:
                out.write(f"{r['file']}: ERROR {r['error']}\n")
                continue
            ranked = "  ".join(f"{display_genre(t['genre'])} {t['probability']:.1%}" for t in r["top_k"])
            if r.get("is_other"):
                outside = r.get("outside")
                like = (
                    f"sounds like {display_genre(outside['genre'])} ({outside['probability']:.0%} if none of the ten); "
                    if outside
                    else ""
                )
                out.write(
                    f"{r['file']}: none of the ten genres ({like}p_other {r['other_probability']:.2f}; "
                    f"closest of the ten: {ranked})\n"
                )
            else:
                out.write(f"{r['file']}: {display_genre(r['genre'])}  ({ranked})\n")
            if r.get("tags"):
                out.write(f"    MSD tags (pretrained head, not genres): {tag_summary(r)}\n")
