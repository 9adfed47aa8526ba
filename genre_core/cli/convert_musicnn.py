"""`convert-musicnn`: map the TensorFlow MSD_musicnn export onto the PyTorch port, once (models/MUSICNN_NOTICE.md)."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    c = sub.add_parser(name, help="convert MSD_musicnn's TensorFlow weights (export_tf.py output) to PyTorch")
    c.add_argument("export", type=Path, help="msd_musicnn_tf.npz written by export_tf.py")
    c.add_argument("--wheel", type=Path, required=True, help="the musicnn-0.1.0 wheel it came from")
    c.add_argument("--out", type=Path, default=None, help="default: models/msd_musicnn.pt")
    c.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..models.pretrained.convert import WEIGHTS_PATH, convert

    out = args.out or WEIGHTS_PATH
    count = convert(args.export, args.wheel, out)
    print(f"{count} weights -> {out}")
    return 0
