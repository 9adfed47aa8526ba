"""`tag`: classify a whole library into a resumable Parquet/CSV table (and, with --write-tags, plan the writes)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..aggregate import METHODS
from ..errors import UsageError
from ..windows import STRATEGIES
from .options import add_device, add_model, add_runtime, add_write_options


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    g = sub.add_parser(name, help="tag a whole music library into Parquet/CSV (resumable)")
    g.add_argument("library", help="folder searched recursively (by extension and by content)")
    g.add_argument("--out", required=True, help="results.parquet, or a .csv name for CSV")
    g.add_argument("--engine", choices=("local", "ray"), default="local")
    g.add_argument("--workers", type=int, default=None, help="processes or Ray actors (default: CPU count)")
    g.add_argument(
        "--threads-per-worker", type=int, default=1, help="threads of each worker's model (default 1: one per core)"
    )
    g.add_argument("--address", default=None, help="an existing Ray cluster, e.g. ray://head:10001")
    g.add_argument("--gpus-per-worker", type=float, default=0.0, help="Ray only: GPUs per actor")
    g.add_argument("--windows", choices=STRATEGIES, default="spread")
    g.add_argument("--aggregate", choices=METHODS, default="mean")
    add_device(g, choices=("cpu", "cuda", "auto"), default="cpu")
    add_runtime(g)
    add_model(g)
    g.add_argument("--quiet", action="store_true")
    g.add_argument("--write-tags", action="store_true", help="then write the genres into the files (see write-tags)")
    add_write_options(g)
    g.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import sys

    from ..tagging import TagOptions, print_progress, summary_line, tag_library
    from .write_tags import write_tags_from_table

    if not Path(args.library).is_dir():
        raise UsageError(f"'{args.library}' is not a folder")
    if args.threads_per_worker < 1:
        raise UsageError("--threads-per-worker must be at least 1")
    options = TagOptions(
        model=args.model,
        strategy=args.windows,
        aggregate=args.aggregate,
        device=args.device,
        runtime=args.runtime,
        threads=args.threads_per_worker,
    )
    summary = tag_library(
        args.library,
        args.out,
        options,
        engine=args.engine,
        workers=args.workers,
        address=args.address,
        gpus_per_worker=args.gpus_per_worker,
        progress=None if args.quiet else print_progress(),
    )
    print(summary_line(summary), file=sys.stderr)
    one_document = args.write_tags and args.format == "json" and not summary["interrupted"]
    if not one_document:  # with --write-tags --format json, the summary goes into the plan's document
        print(json.dumps(summary, indent=2))
    if summary["interrupted"]:
        print(
            "interrupted: the table holds every file classified so far; run the same command to go on", file=sys.stderr
        )
        return summary["exit_status"]
    if args.write_tags:
        return write_tags_from_table(Path(args.out), args, tag_summary=summary)
    return 0
