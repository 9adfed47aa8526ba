"""`embedding`: choose the song embedding by retrieval on valid, fit it on train, store it in the checkpoint."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from .options import add_model, existing_manifest


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    e = sub.add_parser(name, help="choose and store the song embedding that `similar` and `playlist` compare")
    e.add_argument("--manifest", required=True)
    e.add_argument("--cache", default=".cache/outputs", help="where the network outputs of every recording are kept")
    add_model(e)
    e.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..training.embedding import fit_embedding

    manifest = existing_manifest(args.manifest, "choosing the embedding")
    head = fit_embedding(args.model, manifest, Path(args.cache))
    print(json.dumps({"inputs": head["inputs"], **head["info"]}, indent=2))
    return 0
