"""The Dashboard's and the Model page's tables: what a result record, a prediction or the recorded
figures look like as rows, and how wide each column may be."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from genre_core import Prediction
from genre_core.config import display_genre, display_tag


def verdict_text(record: dict[str, Any]) -> str:
    """The open-set verdict of a result record, in words for a table cell, with the family it sounds like."""
    if record.get("is_other") is None:
        return "—"
    if not record["is_other"]:
        return "one of the ten"
    outside = record.get("outside")
    if outside:
        return f"none of the ten: {display_genre(outside['genre'])} ({outside['probability']:.0%})"
    return "none of the ten"


def probability_column() -> dict[str, Any]:
    """Column config drawing a 'probability' column as a percentage bar."""
    return {"probability": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1)}


def window_table(pred: Prediction) -> pd.DataFrame:
    best = pred.window_probs.argmax(axis=1)
    return pd.DataFrame(
        {
            "window": np.arange(1, len(best) + 1),
            "start–end": [f"{s:.1f}–{e:.1f} s" for s, e in zip(pred.starts_s, pred.ends_s, strict=True)],
            "top genre": [display_genre(pred.labels[i]) for i in best],
            "probability": [float(pred.window_probs[j, i]) for j, i in enumerate(best)],
        }
    )


def baselines_frame(models: dict[str, dict[str, dict[str, float]]]) -> tuple[pd.DataFrame, bool]:
    """One row per model and window setting; settings whose figures equal another strategy's for every
    aggregation of that model are merged ('spread = first30'). Also says whether any were merged."""
    rows, merged = [], False
    for name, results in models.items():
        by_strategy: dict[str, dict[str, tuple[float, float]]] = {}
        for setting, row in results.items():
            strategy, aggregation = setting.split("/", 1)
            by_strategy.setdefault(strategy, {})[aggregation] = (row["accuracy"], row["macro_f1"])
        kept: dict[str, dict[str, tuple[float, float]]] = {}
        for strategy, figures_by_aggregation in by_strategy.items():
            same = next((k for k, v in kept.items() if v == figures_by_aggregation), None)
            if same is None:
                kept[strategy] = figures_by_aggregation
            else:
                kept[f"{same} = {strategy}"] = kept.pop(same)
                merged = True
        for strategy, figures_by_aggregation in kept.items():
            for aggregation, (accuracy, macro_f1) in figures_by_aggregation.items():
                setting = f"{strategy} / {aggregation}"
                rows.append({"model": name, "setting": setting, "accuracy": accuracy, "macro-F1": macro_f1})
    return pd.DataFrame(rows), merged


def table_height(rows: int) -> int:
    """Pixels that show every row of a st.dataframe (35 px a row, the header included), so none hides in a scroll."""
    return 35 * (rows + 1) + 3


#: Pixel widths of the batch table's columns: together under the ~818 px the main column has at 1280 px
#: (a failed file's message is listed in full below the table, so the table has no error column).
BATCH_WIDTHS = {
    "file": 110,
    "genre": 70,
    "probability": 100,
    "runners-up": 150,
    "verdict": 195,
    "mood": 110,
    "duration": 70,
}


def batch_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per file, sortable in the UI: genre, probability, the next two, open-set verdict, mood, duration.

    The next two, not a top 3: a top 3 repeated the genre column and did not fit its 150 px ("disco 35%, jazz 20%,
    reg…").
    """
    return pd.DataFrame(
        [
            {
                "file": r["file"],
                "genre": display_genre(r["genre"]) if r["genre"] else "—",
                "probability": r["probabilities"].get(r["genre"], None) if r["genre"] else None,
                "runners-up": ", ".join(f"{display_genre(t['genre'])} {t['probability']:.0%}" for t in r["top_k"][1:3])
                or "—",
                "verdict": verdict_text(r),
                "mood": (r.get("mood") or {}).get("label", "—"),
                "duration": r["duration_s"],
            }
            for r in records
        ],
        columns=list(BATCH_WIDTHS),
    )


def tags_table(pred: Prediction, k: int = 8, method: str = "mean") -> pd.DataFrame:
    """The pretrained head's top MSD tags, for models that have one."""
    return pd.DataFrame([{"tag": display_tag(t), "probability": p} for t, p in pred.top_tags(k, method)])
