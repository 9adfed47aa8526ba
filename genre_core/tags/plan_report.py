"""What `write-tags` prints: the plan as a fixed-width table, its counts, and the hold-back summary.

Every line names its file (mood lines too), so filtering the output with grep keeps what it is about.
"""

from __future__ import annotations

from collections import Counter

from .write_tags import ACTIONS, PlannedFile


def summarise(planned: list[PlannedFile]) -> dict[str, int]:
    counts = Counter(p.action for p in planned)
    return {action: counts[action] for action in ACTIONS if counts[action]}


def summarise_moods(planned: list[PlannedFile]) -> dict[str, int]:
    """Mood actions counted apart from genres' (`write-tags --moods`)."""
    counts = Counter(p.mood.action for p in planned if p.mood is not None)
    return dict(sorted(counts.items()))


def plan_lines(planned: list[PlannedFile]) -> list[str]:
    """A fixed-width table: action, probability, existing → proposed genres, file."""
    rows = [("action", "p", "existing → proposed", "file / reason")]
    for p in planned:
        prob = f"{p.probability:.2f}" if p.probability is not None else "-"
        existing = "; ".join(p.current) or "-"
        change = f"{existing} → {'; '.join(p.proposed) or '-'}" if p.action in ("write", "written") else existing
        detail = p.path if p.action in ("write", "written") else f"{p.path}: {p.reason}"
        if p.in_place:
            detail += "  (hard link: written in place)"
        rows.append((p.action, prob, change, detail))
        if p.mood is not None and p.mood.action != "none":
            m = p.mood
            mood_p = f"{m.probability:.2f}" if m.probability is not None else "-"
            shown = "; ".join(m.current) or "-"
            mood_change = f"{shown} → {m.label}" if m.action in ("write", "written") else shown
            rows.append((f"mood:{m.action}", mood_p, mood_change, f"{p.path}: {m.reason}"))
    widths = [min(max(len(r[i]) for r in rows), 40) for i in range(3)]
    return ["  ".join(f"{c:<{w}}" for c, w in zip(r[:3], widths, strict=True)) + "  " + r[3] for r in rows]


def held_back_line(planned: list[PlannedFile], include_other_flag: str = "--include-other") -> str | None:
    """The files held back as other music, counted by how sure the hold-back is, and what the flag would write.

    The flag is named with the number of files it alone would write; the others' own lines name what would.
    """
    held = [p for p in planned if p.action == "other"]
    if not held:
        return None
    kinds = Counter(p.held for p in held)
    counts = ", ".join(f"{kinds[k]} {k}" for k in ("none of the ten", "may be none") if kinds[k])
    alone = sum(p.unlock == (include_other_flag,) for p in held)
    if alone == len(held):
        return f"{len(held)} file(s) held back as other music ({counts}): {include_other_flag} writes them"
    hint = f"{include_other_flag} alone writes {alone} of them" if alone else f"{include_other_flag} alone writes none"
    return f"{len(held)} file(s) held back as other music ({counts}): {hint}; each line names what would write it"


def undo_lines(reports: list, journal_path: str) -> list[str]:
    """Per undone run: a line per file, then the counts; a run undone before says so instead of replaying it."""
    lines = []
    for report in reports:
        lines += [f"{r.action:<10}  {r.path}: {r.reason}" for r in report.files]
        counts = Counter(r.action for r in report.files)
        shown = ", ".join(f"{n} {a}" for a, n in counts.items()) or "nothing left to undo"
        already = f"; {report.already} undone before, not replayed" if report.already else ""
        lines.append(f"undo run {report.run} of {journal_path}: {shown}{already}")
    return lines
