"""`mood`: fit the mood head (the song's emotion quadrant) on the 4Q recordings and store it in the checkpoint."""

from __future__ import annotations

import argparse
import json
import logging

from .options import add_model, existing_manifest


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    m = sub.add_parser(name, help="fit the mood head (4Q emotion quadrants): C by artist-grouped CV, T on valid")
    m.add_argument("--manifest", required=True)
    add_model(m)
    m.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..models.registry import resolve_model
    from ..training.mood import fit_mood

    manifest = existing_manifest(args.manifest, "fitting the mood head")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    head = fit_mood(resolve_model(args.model), manifest)
    print(json.dumps({k: v for k, v in head.items() if k not in ("mean", "scale", "coef")}, indent=2))
    return 0
