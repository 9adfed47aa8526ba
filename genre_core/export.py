"""Result records as JSON-ready dicts and CSV: one schema for the CLI and the app."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from typing import Any

from .config import display_genre, display_tag


def cell_number(value: Any) -> float | None:
    """A table cell as a number: None for an empty cell (None, or the NaN pandas reads from CSV and Parquet)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return float(value)


def cell_text(value: Any) -> str | None:
    """A table cell as stripped text: None for an empty or NaN cell."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return str(value).strip() or None


def error_record(file: str, message: str) -> dict[str, Any]:
    """What a file that could not be classified looks like in the results."""
    return {
        "file": file,
        "genre": None,
        "top_k": [],
        "probabilities": {},
        "windows": [],
        "duration_s": None,
        "tags": None,
        "other_probability": None,
        "is_other": None,
        "outside": None,
        "mood": None,
        "error": message,
    }


def results_json(results: Sequence[dict[str, Any]]) -> str:
    return json.dumps(list(results), indent=2) + "\n"


def results_csv(results: Sequence[dict[str, Any]]) -> str:
    """One row per file: the top genre, every genre's probability, the MSD tags where the model has them,
    the open-set verdict (`other_probability`, `is_other`: none of the ten genres), the family outside the ten
    it sounds like (`outside_genre`, `outside_probability`: P(family | none of the ten)), the mood, the error.

    A CSV is read by people (a spreadsheet), so genres are spelled as everywhere people read them (`hip-hop`
    in the header and cells); the JSON keeps the labels' keys (`hiphop`)."""
    labels = next((list(r["probabilities"]) for r in results if r["probabilities"]), [])
    with_tags = any(r.get("tags") for r in results)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(
        [
            "file",
            "genre",
            "probability",
            "duration_s",
            *map(display_genre, labels),
            *(["msd_tags"] if with_tags else []),
            "other_probability",
            "is_other",
            *OUTSIDE_COLUMNS,
            *MOOD_COLUMNS,
            "error",
        ]
    )
    for r in results:
        probs = r["probabilities"]
        top = probs.get(r["genre"], "") if r["genre"] else ""
        duration = r["duration_s"] if r["duration_s"] is not None else ""
        tags = [tag_summary(r)] if with_tags else []
        other = r.get("other_probability")
        verdict = "" if r.get("is_other") is None else str(bool(r["is_other"])).lower()
        writer.writerow(
            [
                r["file"],
                display_genre(r["genre"]) if r["genre"] else "",
                top,
                duration,
                *[probs.get(g, "") for g in labels],
                *tags,
                "" if other is None else other,
                verdict,
                *outside_cells(r.get("outside")),
                *mood_cells(r.get("mood")),
                r["error"] or "",
            ]
        )
    return buffer.getvalue()


#: The family outside the ten as flat columns (CSV, the tag table): its label and P(family | none of the ten).
OUTSIDE_COLUMNS = ("outside_genre", "outside_probability")


def outside_cells(outside: dict[str, Any] | None) -> list[Any]:
    """A record's outside family as the CSV's OUTSIDE_COLUMNS, spelled for people ('' where none is named)."""
    return [display_genre(outside["genre"]), outside["probability"]] if outside else ["", ""]


#: The mood as flat columns (CSV, the tag table): the quadrant's words, its probability, arousal, valence.
MOOD_COLUMNS = ("mood", "mood_probability", "arousal", "valence")


def mood_cells(mood: dict[str, Any] | None) -> list[Any]:
    """A record's mood as the values of MOOD_COLUMNS ('' where the model has no mood head)."""
    if not mood:
        return [""] * len(MOOD_COLUMNS)
    return [mood["label"], mood["probabilities"][mood["quadrant"]], mood["arousal"], mood["valence"]]


def tag_summary(record: dict[str, Any]) -> str:
    """'jazz 0.68; instrumental 0.04': a record's top MSD tags in one cell or line, or ''."""
    tags = record.get("tags") or {}
    return "; ".join(f"{display_tag(t['tag'])} {t['probability']:.2f}" for t in tags.get("top", []))
