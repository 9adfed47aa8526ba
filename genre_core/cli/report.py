"""`report`: markdown tables of a checkpoint's recorded metrics, optionally spliced into documents."""

from __future__ import annotations

import argparse
from pathlib import Path

from .options import add_model


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    r = sub.add_parser(name, help="markdown tables of the recorded metrics")
    add_model(r)
    r.add_argument("--write", nargs="*", default=[], help="markdown files whose metrics markers to fill")
    r.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..models.registry import resolve_model
    from ..report import render, splice

    text = render(resolve_model(args.model))
    for document in args.write:
        splice(Path(document), text)
    print(text)
    return 0
