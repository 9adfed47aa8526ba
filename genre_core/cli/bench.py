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
    b.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..bench import run_bench

    run_bench(
        out=args.out,
        runs=args.runs,
        tagging=args.tagging,
        profile=args.profile,
        precision_check=args.precision_check,
        precision_only=args.precision_only,
    )
    return 0
