"""`write-tags`: write a tag table's genres into the files' own tags (dry run unless --apply; undoable)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import UsageError
from .options import add_write_options

if TYPE_CHECKING:
    import pandas as pd

    from ..tags.genre_names import GenreNames


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    w = sub.add_parser(
        name,
        help="write a tag table's genres into the files' own tags (dry run unless --apply; undoable)",
    )
    w.add_argument("table", nargs="?", help="the Parquet/CSV made by `tag`")
    w.add_argument(
        "--undo", default=None, metavar="JOURNAL", help="restore what a journal's last run wrote (--run, --all: others)"
    )
    w.add_argument(
        "--run", dest="undo_run", type=int, default=None, help="with --undo: this run of the journal (numbered from 1)"
    )
    w.add_argument(
        "--all", dest="undo_all", action="store_true", help="with --undo: every run of the journal, newest first"
    )
    w.add_argument("--model", default=None, help="the checkpoint that made the table, for its threshold")
    add_write_options(w)
    w.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..interrupts import exit_status
    from ..tags.plan_report import undo_lines
    from ..tags.tag_journal import Journal, undo

    if args.undo:
        reports = undo(Journal(args.undo), args.undo_run, args.undo_all)
        if args.format == "json":
            print(
                json.dumps(
                    [
                        {**vars(r), "interrupted": bool(r.interrupted), "files": [vars(f) for f in r.files]}
                        for r in reports
                    ],
                    indent=2,
                    ensure_ascii=False,
                )
            )
        else:
            print("\n".join(undo_lines(reports, args.undo)))
        stopped = next((r.interrupted for r in reports if r.interrupted), None)
        if stopped is not None:
            print("interrupted: the files listed as 'not undone' hold what was written; undo again to finish")
            return exit_status(stopped)
        return 1 if any(f.action == "failed" for r in reports for f in r.files) else 0
    if args.undo_run is not None or args.undo_all:
        raise UsageError("--run and --all choose what --undo restores; give --undo JOURNAL")
    if not args.table:
        raise UsageError("give the table made by `python -m genre_core tag` (or --undo JOURNAL)")
    if not Path(args.table).is_file():
        raise UsageError(f"'{args.table}' does not exist")
    return write_tags_from_table(Path(args.table), args)


def write_tags_from_table(table_path: Path, args: argparse.Namespace, tag_summary: dict | None = None) -> int:
    """Plan (and with --apply, write) the genres of a tag table; print the plan and how to undo it.

    `tag_summary`: what `tag` just did; in JSON it leads the same document, so a script reads one.
    """
    from ..interrupts import exit_status
    from ..table_io import read_table
    from ..tags.genre_names import load_genre_names

    try:
        table = read_table(table_path)
        genre_names = load_genre_names(args.genre_names) if args.genre_names else None
        plan = make_plan(table, genre_names, args)
    except KeyboardInterrupt as exc:  # while planning: before any write
        print("interrupted while planning: nothing was written", file=sys.stderr)
        return exit_status(exc)
    return write_and_report(table_path, table, plan, args, tag_summary)


def make_plan(table: pd.DataFrame, genre_names: GenreNames | None, args: argparse.Namespace) -> dict:
    """Every file's plan (reading each file's tags), the thresholds, and the albums with --per album."""
    import pandas as pd

    from ..tags.albums import consensus, with_album_tags
    from ..tags.model_record import RunModels
    from ..tags.write_moods import mood_threshold
    from ..tags.write_tags import plan_table
    from ..tags.write_thresholds import thresholds_for

    planned_table, albums, fallback = table, [], {}
    if args.per == "album":
        rows, albums, fallback = consensus(with_album_tags(table.to_dict("records")))
        planned_table = pd.DataFrame(rows, columns=list(dict.fromkeys([*table.columns, *rows[0]])) if rows else None)
    moods = args.moods or args.moods_only
    models = RunModels.read(args.model)  # each model read once; thresholds and the mood head come from here
    thresholds = (
        {}
        if args.moods_only
        else thresholds_for(table, models, args.min_probability, args.max_genres, args.secondary_min_probability)
    )
    mood_cut = mood_threshold(models, args.mood_min_probability) if moods else None
    planned = plan_table(
        planned_table,
        thresholds,
        args.overwrite,
        args.mode,
        args.max_genres,
        args.include_other,
        mood_cut,
        genres=not args.moods_only,
        genre_names=genre_names,
        outside=args.outside,
    )
    return {"planned": planned, "thresholds": thresholds, "mood_cut": mood_cut, "albums": albums, "fallback": fallback}


def write_and_report(
    table_path: Path, table: pd.DataFrame, plan: dict, args: argparse.Namespace, tag_summary: dict | None
) -> int:
    """With --apply, write the plan (an interrupt stops it between files); then print what was and was not done."""
    from ..interrupts import exit_status
    from ..tags.albums import album_lines
    from ..tags.plan_report import held_back_line, plan_lines, summarise, summarise_moods
    from ..tags.tag_journal import Journal, default_journal
    from ..tags.write_tags import apply_plan, has_verdicts

    planned, thresholds, mood_cut = plan["planned"], plan["thresholds"], plan["mood_cut"]
    albums, fallback, moods = plan["albums"], plan["fallback"], args.moods or args.moods_only
    verdicts = has_verdicts(table)
    no_verdict_note = (
        "this table was made before the open-set verdict (no is_other column): whether its songs are of the ten "
        "genres is unknown, so none is held back as other music; tag the library again to check"
    )
    journal = Journal(args.journal or default_journal(table_path))
    interrupted = apply_plan(planned, journal, table_path) if args.apply else None
    completed = interrupted is None
    summary = summarise(planned)
    undo_command = f"python -m genre_core write-tags --undo {journal.path}"
    if args.format == "json":
        report = {
            **({"tag": tag_summary} if tag_summary is not None else {}),
            "applied": args.apply,
            "completed": completed,
            "thresholds": {m: vars(t) for m, t in thresholds.items()},
            "summary": summary,
            **({"albums": [a.to_dict() for a in albums], "fallback": fallback} if args.per == "album" else {}),
            **({"moods": {"min_probability": mood_cut, "summary": summarise_moods(planned)}} if moods else {}),
            "open_set_verdict": verdicts,
            **({} if verdicts else {"note": no_verdict_note}),
            "journal": str(journal.path) if args.apply else None,
            "run": journal.run if args.apply else None,
            "files": [p.to_dict() for p in planned],
        }
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        if args.per == "album":
            held = {p.path: p.held for p in planned if p.action == "other" and p.held}
            print("\n".join(album_lines(albums, fallback, {p.path: p.action for p in planned}, held)))
        print("\n".join(plan_lines(planned)))
        if not verdicts:
            print(f"note: {no_verdict_note}")
        elif (held := held_back_line(planned)) is not None:
            print(held)
        for t in set(thresholds.values()):
            measured = ""
            if t.valid_precision is not None and t.valid_coverage is not None:
                measured = f"; on valid, written genres were right {t.valid_precision:.1%} of the time, for "
                measured += f"{t.valid_coverage:.0%} of songs"
            print(f"threshold: p >= {t.min_probability:.2f} ({t.source}{measured})")
            if args.outside and not args.include_other and t.outside_min_probability is not None:
                print(
                    f"outside the ten: a held-back file gets its family (Electronic, R&B, New Age) where "
                    f"P(family | none of the ten) >= {t.outside_min_probability:.2f} (measured out of fold for 90% "
                    "precision; --no-outside leaves them out)"
                )
            if args.max_genres > 1 and t.secondary_min_probability is not None:
                source = f" ({t.secondary_source})" if t.secondary_source else ""
                more = f"up to {args.max_genres - 1} more where p >= {t.secondary_min_probability:.2f}"
                print(f"secondary genres: {more}{source}")
        in_place = [p.path for p in planned if p.in_place]
        if in_place:
            print(f"{len(in_place)} hard-linked file(s) written in place, so every link sees the new genres:")
            print("\n".join(f"  {path}" for path in in_place))
        counts = ", ".join(f"{n} {a}" for a, n in summary.items())
        if moods:
            print(f"moods: p >= {mood_cut:.2f}; " + ", ".join(f"{n} {a}" for a, n in summarise_moods(planned).items()))
        if not args.apply:
            print(f"dry run: {counts}. Nothing was changed; add --apply to write.")
        else:
            if not completed:
                print(
                    "interrupted: the files marked 'not written: interrupted' are as they were; the journal is "
                    "complete."
                )
            print(f"{counts}. Journal: {journal.path} (run {journal.run})\nundo: {undo_command}")
    if interrupted is not None:
        return exit_status(interrupted)
    return 1 if summary.get("failed") else 0
