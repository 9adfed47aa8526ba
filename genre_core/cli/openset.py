"""`openset`: fit the open-set detector (is a song none of the ten genres?) and store it in the checkpoint."""

from __future__ import annotations

import argparse
import json
import logging

from .options import add_model, existing_manifest


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    o = sub.add_parser(
        name, help="fit the open-set detector on train, choose its design by held-out data and its rule on valid"
    )
    o.add_argument("--manifest", required=True)
    add_model(o)
    o.add_argument("--c", type=float, default=0.1, help="the logistic regression's inverse regularisation (0.1)")
    o.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..models.registry import resolve_model
    from ..training.openset import fit_open_set

    manifest = existing_manifest(args.manifest, "fitting the open-set detector")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    detector = fit_open_set(resolve_model(args.model), manifest, c=args.c)
    print(json.dumps({k: v for k, v in detector.items() if k not in ("mean", "scale", "coef")}, indent=2))
    return 0
