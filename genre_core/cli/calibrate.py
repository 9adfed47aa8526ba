"""`calibrate`: temperature scaling and the tag-writing thresholds, fitted on the valid split."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from ..errors import UsageError
from .options import add_model


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    c = sub.add_parser(name, help="fit temperature scaling and the tag-writing threshold on the valid split")
    c.add_argument("--manifest", required=True)
    add_model(c)
    c.add_argument(
        "--tag-precision", type=float, default=0.9, help="how often written genres must be right on valid (0.9)"
    )
    c.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..models.registry import resolve_model
    from ..training.calibrate import calibrate

    if not 0 < args.tag_precision < 1:
        raise UsageError("--tag-precision must be between 0 and 1")
    report = calibrate(resolve_model(args.model), Path(args.manifest), tag_precision=args.tag_precision)
    print(json.dumps(report, indent=2))
    return 0
