"""Options several commands share, with one help text each: model, device, runtime, write options."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..config import RUNTIMES
from ..errors import UsageError

MODEL_HELP = (
    "a shipped model (musicnn_crnn: transfer CRNN; crnn: from scratch) or a checkpoint path; "
    "default: the shipped model with the better valid macro-F1"
)
RUNTIME_HELP = (
    "auto: ONNX Runtime on a CPU when the model's export is current, else PyTorch; "
    "onnx: ONNX Runtime or an error; torch: PyTorch"
)
DEVICES = ("auto", "cpu", "cuda", "mps")


def add_model(parser: argparse.ArgumentParser, help: str = MODEL_HELP) -> None:
    parser.add_argument("--model", default=None, help=help)


def add_device(parser: argparse.ArgumentParser, choices: tuple[str, ...] = DEVICES, default: str = "auto") -> None:
    parser.add_argument("--device", choices=choices, default=default)


def add_runtime(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runtime", choices=RUNTIMES, default="auto", help=RUNTIME_HELP)


def add_write_options(parser: argparse.ArgumentParser) -> None:
    """What `write-tags` and `tag --write-tags` share: how and when genres are written."""
    parser.add_argument("--apply", action="store_true", help="write the tags (default: a dry run printing the plan)")
    parser.add_argument(
        "--mode",
        choices=("replace", "append", "merge"),
        default="replace",
        help="replace: the file's genres become ours (files that have genres need --overwrite); append: keep "
        "every existing value, add ours after them; merge: ours first, then the existing ones (default: replace)",
    )
    parser.add_argument("--overwrite", action="store_true", help="--mode replace: replace genres files already have")
    parser.add_argument(
        "--max-genres",
        type=int,
        default=1,
        help="also write a second or third genre where its own probability reaches the model's measured "
        "secondary threshold (default 1: the top genre only)",
    )
    parser.add_argument(
        "--secondary-min-probability",
        type=float,
        default=None,
        help="with --max-genres > 1: write another genre at or above this probability (default: measured)",
    )
    parser.add_argument(
        "--min-probability",
        type=float,
        default=None,
        help="write only at or above this probability (default: the model's threshold, chosen on the valid "
        "split so that written genres are right at least 90%% of the time)",
    )
    parser.add_argument(
        "--per",
        choices=("track", "album"),
        default="track",
        help="album: every track of an album (same album and album artist tags) gets the album's genre, the mean "
        "of its tracks' probabilities; files without album tags and one-track albums fall back to their own "
        "(default: track)",
    )
    parser.add_argument(
        "--genre-names",
        default=None,
        metavar="FILE",
        help='a TOML file of your own genre names: [names] hiphop = "Hip Hop", metal = ["Metal", "Heavy Metal"]',
    )
    parser.add_argument(
        "--include-other",
        action="store_true",
        help="also write files the model judged to be none of the ten genres (is_other), under the same threshold",
    )
    parser.add_argument(
        "--no-outside",
        dest="outside",
        action="store_false",
        help="never write a family outside the ten (Electronic, R&B, New Age) into files the open-set verdict holds "
        "back; by default it is written where P(family | none of the ten) reaches the model's measured threshold "
        "(written outside genres right >= 90%% out of fold); --genre-names maps them like the ten "
        '(electronic = "Electronica")',
    )
    parser.add_argument(
        "--moods",
        action="store_true",
        help="also write each file's mood (e.g. 'calm / relaxed') into its mood field (TMOO, TXXX:MOOD, MOOD, "
        "the iTunes MOOD atom) where the mood's probability reaches the model's measured threshold",
    )
    parser.add_argument("--moods-only", action="store_true", help="write moods and leave genres as they are")
    parser.add_argument(
        "--mood-min-probability",
        type=float,
        default=None,
        help="write moods at or above this probability (default: measured on valid: written moods right >= 80%%)",
    )
    parser.add_argument("--journal", default=None, help="undo journal (default: TABLE.undo.jsonl)")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="how the plan is printed")


def existing_manifest(raw: str, needs: str) -> Path:
    """The `--manifest` path, or the one usage error every dataset command gives when it is missing."""
    manifest = Path(raw)
    if not manifest.is_file():
        raise UsageError(f"no manifest at '{manifest}': {needs} needs ../shared/data")
    return manifest
