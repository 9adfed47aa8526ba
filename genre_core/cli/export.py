"""`export`: write (or confirm) the ONNX export and serving sidecar beside each checkpoint."""

from __future__ import annotations

import argparse

from ..errors import UsageError


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    e = sub.add_parser(
        name, help="write the ONNX export (if missing or stale) and serving sidecar beside each checkpoint"
    )
    e.add_argument("models", nargs="*", help="shipped model names or checkpoint paths (default: every shipped model)")
    e.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..models.checkpoint import load_checkpoint
    from ..models.onnx import refresh_export
    from ..models.registry import SHIPPED_MODELS
    from ..models.serving import sidecar_path

    for model in args.models or list(SHIPPED_MODELS):
        checkpoint = load_checkpoint(model)
        target = refresh_export(checkpoint)
        if target is None:
            raise UsageError("the onnx exporter is not installed: pip install -r requirements.txt")
        print(f"{checkpoint.path} -> {target}, {sidecar_path(checkpoint.path)}")
    return 0
