"""`python -m genre_core predict|tag|write-tags|train|evaluate|bench|...` — a thin shell over the library.

Each command lives in its own module with `add_parser(subparsers)` and `run(args)`; `run`
translates the parsed options into typed library calls and imports the library only then,
so `--help` and `predict` never load training code.

Exit codes: 0 all files classified, 1 some failed (the rest are still
reported), 2 usage errors. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from ..errors import GenreCoreError, UsageError

#: Command name → the module (in this package) that implements it, in the order `--help` lists them.
COMMANDS: dict[str, str] = {
    "predict": "predict",
    "train": "train",
    "train-transfer": "train_transfer",
    "holdout": "holdout",
    "train-coarse-front": "train_coarse_front",
    "evaluate": "evaluate",
    "explain": "explain",
    "calibrate": "calibrate",
    "openset": "openset",
    "mood": "mood",
    "outside": "outside",
    "tag": "tag",
    "write-tags": "write_tags",
    "similar": "similar",
    "playlist": "playlist",
    "embedding": "embedding",
    "report": "report",
    "export": "export",
    "bench": "bench",
    "convert-musicnn": "convert_musicnn",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m genre_core", description="Music genre classification.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, module in COMMANDS.items():
        importlib.import_module(f"{__name__}.{module}").add_parser(sub, name)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "top_k", 1) < 1:
        parser.error("--top-k must be at least 1")
    from ..interrupts import exit_status, install

    install()  # SIGTERM is reported like Ctrl-C: what was and was not done, then 143
    try:
        return args.run(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except GenreCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:
        if not exc.name or exc.name.split(".")[0] == "genre_core":
            raise  # our own module missing is a bug, not an install choice
        # The serve install (requirements-serve.txt) leaves out torch, librosa, scipy and scikit-learn.
        print(
            f"error: `{args.command}` needs the package '{exc.name.split('.')[0]}', which this install does not have "
            "(the serve install runs only predict, tag, write-tags and explain): pip install -r requirements.txt",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt as exc:  # tag and write-tags report what they did; here, the rest
        print(f"interrupted: `{args.command}` stopped before it finished", file=sys.stderr)
        return exit_status(exc)
