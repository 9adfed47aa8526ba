"""`train-coarse-front`: fit the coarse front end (fewer multiply-adds) to the shipped one's output."""

from __future__ import annotations

import argparse
import json
import logging

from .options import existing_manifest


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    t = sub.add_parser(
        name,
        help="fit the default model's front end on pairs of mel bands to the shipped front end's output "
        "(measure it with `bench --coarse-front-end --coarse-weights OUT`)",
    )
    t.add_argument("--manifest", default="../shared/data/manifest.csv")
    t.add_argument("--out", default="runs/coarse_front.pt")
    t.add_argument("--windows", type=int, default=3000, help="train windows to fit on")
    t.add_argument("--epochs", type=int, default=3)
    t.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    t.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import torch

    from ..training.coarse_front import CoarseSettings, train_coarse_front

    if args.threads:
        torch.set_num_threads(args.threads)
    manifest = existing_manifest(args.manifest, "fitting the coarse front end")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    result = train_coarse_front(manifest, args.out, settings=CoarseSettings(windows=args.windows, epochs=args.epochs))
    print(json.dumps(result, indent=2))
    return 0
