"""`evaluate`: track-level metrics of a checkpoint (and baselines) on a split of the shared dataset."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .options import add_model, existing_manifest


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    e = sub.add_parser(name, help="track-level metrics of a checkpoint on a split")
    e.add_argument("--manifest", required=True)
    add_model(e)
    e.add_argument("--split", choices=("valid", "test"), default="valid")
    e.add_argument(
        "--baselines",
        nargs="*",
        default=[],
        help="reference checkpoint(s) to compare; 'mfcc' for the logistic baseline",
    )
    e.add_argument("--save", action="store_true", help="write metrics into the checkpoint and models/metrics.json")
    e.add_argument("--out", default=None, help="JSON report path")
    e.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..models.registry import resolve_model
    from ..training.evaluate import evaluate, print_summary, save_metrics

    manifest = existing_manifest(args.manifest, "the full-dataset evaluation")
    results = evaluate(manifest, args.split, args.model, args.baselines)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))
    if args.save:
        save_metrics(resolve_model(args.model), results)
    print_summary(results)
    return 0
