"""Compare training runs from the histories stored in their checkpoints.

`python -m genre_core.training.runs runs/ablate/*.pt` prints a markdown
table. Besides the best epoch (a maximum over a noisy curve, so optimistic)
it gives the mean valid macro-F1 of the last five epochs, which is the
steadier figure for comparing recipes.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np

from ..models.checkpoint import load_checkpoint

LAST = 5


def summarise(path: Path) -> dict[str, Any]:
    training = load_checkpoint(path).training
    history = training["history"]
    tail = history[-LAST:]
    row = {
        "run": path.stem,
        "parameters": training["parameters"],
        "epochs": training["epochs_run"],
        "minutes": training["wall_minutes"],
        "best_epoch": training["best_epoch"],
        "best_f1": training["best_valid_macro_f1"],
        "best_acc": next(h["valid_acc"] for h in history if h["epoch"] == training["best_epoch"]),
        "last_f1": float(np.mean([h["valid_macro_f1"] for h in tail])),
    }
    if "raw_valid_macro_f1" in history[0]:
        row["raw_best_f1"] = max(h["raw_valid_macro_f1"] for h in history)
        row["raw_last_f1"] = float(np.mean([h["raw_valid_macro_f1"] for h in tail]))
    return row


def table(paths: list[Path]) -> str:
    rows = [summarise(p) for p in paths]
    lines = [
        "| run | params | epochs | min | best epoch | best valid F1 (acc) "
        f"| mean F1, last {LAST} | raw weights: best F1 | raw: mean F1, last {LAST} |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        raw = f"{r['raw_best_f1']:.3f} | {r['raw_last_f1']:.3f}" if "raw_best_f1" in r else "– | –"
        lines.append(
            f"| {r['run']} | {r['parameters']:,} | {r['epochs']} | {r['minutes']:.1f} | {r['best_epoch']} "
            f"| {r['best_f1']:.3f} ({r['best_acc']:.1%}) | {r['last_f1']:.3f} | {raw} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table([Path(p) for p in sys.argv[1:]]))
