"""`bench`: speed and memory of every shipped model against the reference pipeline, in one run."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    b = sub.add_parser(name, help="speed and memory against the reference pipeline")
    b.add_argument("--out", default="bench.json")
    b.add_argument("--runs", type=int, default=5)
    b.add_argument("--tagging", type=int, default=0, metavar="N", help="also time tagging N songs: CLI, local, Ray")
    b.add_argument("--profile", action="store_true", help="also time the transfer model's stages and conv variants")
    b.add_argument(
        "--precision-check",
        action="store_true",
        help="bf16 (OpenVINO, if installed) against fp32 on the valid and test splits: decisions changed, accuracy",
    )
    b.add_argument("--precision-only", action="store_true", help="run only the --precision-check")
    b.add_argument(
        "--similar",
        action="store_true",
        help="run only the `similar` search bench: query time and memory at 10,000, 100,000 and 1,000,000 songs",
    )
    b.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..bench import run_bench

    if args.similar:
        return run_similar(args.out)

    run_bench(
        out=args.out,
        runs=args.runs,
        tagging=args.tagging,
        profile=args.profile,
        precision_check=args.precision_check,
        precision_only=args.precision_only,
    )
    return 0


def run_similar(out: str) -> int:
    import json
    from pathlib import Path

    from ..bench_similar import bench_similar
    from ..classifier import load_info
    from ..models.registry import resolve_model

    head = load_info(resolve_model(None)).calibration.get("embedding")
    width = len(head["mean"]) if head else 60
    rows = bench_similar(width)
    header = ("songs", "search_ms", "full_sort_baseline_ms", "speedup_vs_full_sort", "single_query_ms")
    columns = (*header, "batch_32_queries_ms", "vectors_mb", "index_mb")
    print("  ".join(f"{h:>21}" for h in columns))
    for row in rows:
        print("  ".join(f"{row[h]:>21}" for h in columns))
    Path(out).write_text(json.dumps({"similar": rows}, indent=2))
    return 0
