"""`train-transfer`: train the transfer CRNN (pretrained musicnn front end), or a held-out design by name."""

from __future__ import annotations

import argparse
import json


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    tt = sub.add_parser(name, help="train the transfer CRNN (pretrained musicnn front end) from a manifest")
    tt.add_argument("--manifest", required=True)
    tt.add_argument("--out", required=True)
    tt.add_argument("--epochs", type=int, default=30)
    tt.add_argument("--max-minutes", type=float, default=30.0)
    tt.add_argument("--seed", type=int, default=1234)
    tt.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    tt.add_argument("--frozen-midend", action="store_true", help="train only the GRU head; keep the mid end as is")
    tt.add_argument("--lr", type=float, default=1e-3, help="peak learning rate of the head (one-cycle)")
    tt.add_argument("--midend-lr", type=float, default=1e-4, help="peak learning rate of the fine-tuned mid end")
    tt.add_argument("--mixup-alpha", type=float, default=0.2)
    tt.add_argument("--gain-db", type=float, default=6.0, help="half the training windows at a random gain of +-this")
    tt.add_argument("--windows-per-genre", type=int, default=500, help="class-balanced windows per genre per epoch")
    tt.add_argument("--embed-dim", type=int, default=128)
    tt.add_argument("--gru-hidden", type=int, default=128)
    tt.add_argument("--step-pool", type=int, default=4, help="frames max-pooled into one GRU step")
    tt.add_argument(
        "--candidate",
        default=None,
        help="train a design of `holdout` (e.g. frozen) with its own settings; the other knobs are ignored",
    )
    tt.add_argument(
        "--holdout-results",
        default="runs/holdout.json",
        help="with --candidate: the held-out results to store in the checkpoint beside it",
    )
    tt.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..training.transfer import TransferSettings, train_transfer, transfer_config

    if args.candidate:
        from ..training.holdout import train_candidate

        summary = train_candidate(args.manifest, args.out, args.candidate, args.holdout_results, args.threads)
        print(json.dumps({k: v for k, v in summary.items() if k not in ("history", "holdout")}, indent=2))
        return 0
    settings = TransferSettings(
        epochs=args.epochs,
        max_minutes=args.max_minutes,
        seed=args.seed,
        threads=args.threads,
        finetune_midend=not args.frozen_midend,
        lr=args.lr,
        midend_lr=args.midend_lr,
        mixup_alpha=args.mixup_alpha,
        gain_db=args.gain_db,
        windows_per_genre=args.windows_per_genre,
    )
    config = transfer_config(embed_dim=args.embed_dim, gru_hidden=args.gru_hidden, step_pool=args.step_pool)
    summary = train_transfer(args.manifest, args.out, config, settings)
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}, indent=2))
    return 0
