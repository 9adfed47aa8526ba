"""`outside`: fit the outside head (the family a song of none of the ten sounds like); store it in the checkpoint."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from .options import add_model, existing_manifest

DEFAULT_CACHE = Path(".cache") / "outputs"


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    o = sub.add_parser(
        name,
        help="fit the outside head (electronic, R&B/soul, ambient/new age) by artist-grouped cross-validation "
        "on train + valid; test reported once",
    )
    o.add_argument("--manifest", required=True)
    add_model(o)
    o.add_argument(
        "--cache",
        default=str(DEFAULT_CACHE),
        help=f"folder for every recording's network outputs, reused while the export is the same ({DEFAULT_CACHE})",
    )
    o.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..models.registry import resolve_model
    from ..training.outside import fit_outside

    manifest = existing_manifest(args.manifest, "fitting the outside head")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    head = fit_outside(resolve_model(args.model), manifest, Path(args.cache))
    print(json.dumps({k: head[k] for k in ("families", "name_threshold", "write_threshold", "info")}, indent=2))
    return 0
