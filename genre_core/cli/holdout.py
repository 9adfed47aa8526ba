"""`holdout`: leave-one-source-out validation of transfer designs (the rule that chooses the shipped model)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from ..errors import UsageError
from .options import existing_manifest


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    h = sub.add_parser(
        name,
        help="leave-one-source-out validation of transfer designs (the rule that chooses the shipped model)",
    )
    h.add_argument("--manifest", default="../shared/data/manifest.csv")
    h.add_argument("--candidates", nargs="*", default=[], help="designs to run (see genre_core.training.holdout)")
    h.add_argument("--sources", nargs="*", default=["gtzan", "4q", "emotify"], help="sources to hold out in turn")
    h.add_argument("--out", default="runs/holdout.json", help="results accumulate here (JSON)")
    h.add_argument("--table", action="store_true", help="print the markdown table of the recorded results and exit")
    h.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    h.add_argument(
        "--redecide",
        action="store_true",
        help="also score, in each run, a logistic regression on genres + tags that re-decides the ten "
        "(with and without the outside families) beside the network's own decision",
    )
    h.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..report import candidates_table

    out = Path(args.out)
    if args.table:
        if not out.is_file():
            raise UsageError(f"no held-out results at '{out}': run `holdout --candidates ...` first")
        recorded = json.loads(out.read_text())
        print(candidates_table(recorded))
        from ..training.redecide import redecide_table

        for name, result in recorded.items():
            if "redecide" in result:
                print("\n" + redecide_table(name, result["runs"], tuple(args.sources)))
        return 0
    from ..training.holdout import CANDIDATES, holdout

    unknown = [n for n in args.candidates if n not in CANDIDATES]
    if unknown or not args.candidates:
        raise UsageError(f"choose candidates with --candidates; unknown: {unknown}; known: {', '.join(CANDIDATES)}")
    chosen = [CANDIDATES[n] for n in args.candidates]
    manifest = existing_manifest(args.manifest, "held-out-source validation")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    results = holdout(manifest, chosen, out, tuple(args.sources), threads=args.threads, redecide=args.redecide)
    print(candidates_table({k: results[k] for k in args.candidates}))
    if args.redecide:
        from ..training.redecide import redecide_table

        for name in args.candidates:
            print("\n" + redecide_table(name, results[name]["runs"], tuple(args.sources)))
    return 0
