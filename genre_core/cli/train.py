"""`train`: train the CRNN from scratch (or distilled from a teacher) on a manifest."""

from __future__ import annotations

import argparse
import json


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    t = sub.add_parser(name, help="train a checkpoint from a manifest")
    t.add_argument("--manifest", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--arch", choices=("crnn", "reference"), default="crnn")
    t.add_argument("--channels", default=None, help="conv channels per block, e.g. 24,48,96,160")
    t.add_argument("--gru-hidden", type=int, default=None)
    t.add_argument("--epochs", type=int, default=60)
    t.add_argument("--crops-per-genre", type=int, default=400)
    t.add_argument("--max-minutes", type=float, default=45.0)
    t.add_argument("--seed", type=int, default=1234)
    t.add_argument("--no-augment", action="store_true", help="no SpecAugment, mixup or rendered variants")
    t.add_argument("--no-spec-augment", action="store_true")
    t.add_argument("--mixup-alpha", type=float, default=None, help="0 turns mixup off (default 0.2)")
    t.add_argument("--label-smoothing", type=float, default=None, help="default 0.05")
    t.add_argument("--speed-factors", default=None, help="vari-speed copies, e.g. 0.944,1.059, or none")
    t.add_argument("--stretch-factors", default=None, help="time-stretched copies, e.g. 0.94,1.06 (default none)")
    t.add_argument("--ema-decay", type=float, default=None, help="weight EMA per step, e.g. 0.995 (default 0: off)")
    t.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    t.add_argument("--track-raw", action="store_true", help="also log valid metrics of the raw (unaveraged) weights")
    t.add_argument(
        "--teacher", default=None, help="distil: a model (name or path) whose window probabilities join the targets"
    )
    t.add_argument("--distill-weight", type=float, default=0.7, help="the teacher's share of each target (default 0.7)")
    t.add_argument("--device", default="auto")
    t.set_defaults(run=run)


def parse_factors(text: str | None) -> tuple[float, ...] | None:
    """'0.94,1.06' -> (0.94, 1.06); 'none' -> (); None -> leave the default."""
    if text is None:
        return None
    return () if text.strip().lower() in ("", "none") else tuple(float(f) for f in text.split(","))


def run(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from ..config import GenreConfig, ModelConfig
    from ..reference import REFERENCE_ARCH
    from ..training.train import TrainSettings, train

    if args.arch == "reference":
        model_cfg = ModelConfig(**REFERENCE_ARCH)
    else:
        sizes = {"conv_channels": tuple(int(c) for c in args.channels.split(","))} if args.channels else {}
        if args.gru_hidden:
            sizes["gru_hidden"] = args.gru_hidden
        model_cfg = replace(ModelConfig(), **sizes)
    settings = TrainSettings(
        epochs=args.epochs,
        max_minutes=args.max_minutes,
        seed=args.seed,
        crops_per_genre=args.crops_per_genre,
        threads=args.threads,
        track_raw=args.track_raw,
        teacher=args.teacher or "",
        distill_weight=args.distill_weight,
    )
    ablations = {
        "spec_augment": False if args.no_spec_augment else None,
        "mixup_alpha": args.mixup_alpha,
        "label_smoothing": args.label_smoothing,
        "speed_factors": parse_factors(args.speed_factors),
        "stretch_factors": parse_factors(args.stretch_factors),
        "ema_decay": args.ema_decay,
    }
    settings = replace(settings, **{k: v for k, v in ablations.items() if v is not None})
    if args.no_augment:
        settings = replace(settings, spec_augment=False, mixup_alpha=0.0, speed_factors=(), stretch_factors=())
    summary = train(args.manifest, args.out, GenreConfig(model=model_cfg), settings, device=args.device)
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}, indent=2))
    return 0
