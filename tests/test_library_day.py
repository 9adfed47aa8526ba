"""A library owner's day (issue 35): the table, the journal and the messages tell the truth, run after run.

Real files (MP3, FLAC, OGG cut from tests/data), the real CLI, and for interrupts a real process sent SIGINT
or SIGTERM while it writes: what it prints, its exit status, the journal and the table afterwards.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import make_file
from genre_core.cli import main
from genre_core.tagging import read_table, write_table
from genre_core.tags.filetags import read_genre, read_mood

REPO = Path(__file__).resolve().parents[1]


def cli_json(args: list[str], capsys) -> tuple[int, object]:
    code = main([*args, "--format", "json"])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture
def library(tmp_path: Path) -> Path:
    music = tmp_path / "music"
    (music / "Album").mkdir(parents=True)
    make_file(music / "Album", "mp3-v2.3", "Bebop", name="one", clip="jazz")
    make_file(music / "Album", "flac", None, name="two", clip="classical")
    make_file(music, "ogg", None, name="three", clip="metal")
    return music


def test_a_days_sequence_needs_no_retag_and_skips_no_file(library, tmp_path, monkeypatch, capsys):
    """tag (relative path) → dry run from elsewhere → apply → undo → apply with moods → undo: no re-`tag`."""
    monkeypatch.chdir(tmp_path)
    assert main(["tag", "music", "--out", "t.parquet", "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()
    table = tmp_path / "t.parquet"
    assert all(os.path.isabs(p) for p in read_table(table)["path"])  # a table works from any folder
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    write = ["write-tags", str(table), "--min-probability", "0", "--overwrite"]

    def planned(extra: list[str] = ()) -> dict[str, dict]:
        code, report = cli_json([*write, *extra], capsys)
        assert code == 0
        files = {Path(f["path"]).name: f for f in report["files"]}
        stale = [f["reason"] for f in files.values() if "since it was classified" in f["reason"]]
        assert not stale, stale  # no file vanished or "changed since": the table followed every write
        return files

    assert {f["action"] for f in planned().values()} <= {"write", "same"}
    code, applied = cli_json([*write, "--apply"], capsys)
    assert code == 0 and applied["run"] == 1
    written = {Path(f["path"]).name for f in applied["files"] if f["action"] == "written"}
    assert written and {f["action"] for n, f in planned().items() if n in written} == {"same"}

    journal = applied["journal"]
    code, [undone] = cli_json(["write-tags", "--undo", journal], capsys)
    assert code == 0 and undone["run"] == 1 and {f["action"] for f in undone["files"]} == {"restored"}
    assert read_genre(library / "Album" / "one.mp3").shown == ("Bebop",)
    assert {f["action"] for n, f in planned().items() if n in written} == {"write"}  # planned again, no re-tag

    moods = ["--moods-only", "--mood-min-probability", "0"]
    code, with_moods = cli_json([*write, *moods, "--apply"], capsys)
    assert code == 0 and with_moods["run"] == 2
    mood_written = [f for f in with_moods["files"] if f["mood"] and f["mood"]["action"] == "written"]
    assert len(mood_written) == 3 and all(read_mood(f["path"]).shown for f in mood_written)
    assert all(f["mood"]["action"] == "same" for f in planned(moods).values())

    # --undo takes the last run (the moods); the genres' run was undone before and is not replayed.
    code, [moods_undone] = cli_json(["write-tags", "--undo", journal], capsys)
    assert moods_undone["run"] == 2 and len(moods_undone["files"]) == 3
    assert all(read_mood(f["path"]).shown == () for f in mood_written)
    code, [again] = cli_json(["write-tags", "--undo", journal, "--run", "1"], capsys)
    assert code == 0 and again["files"] == [] and again["already"] == len(written)
    assert main(["write-tags", "--undo", journal, "--run", "7"]) == 2
    assert "has no run 7 (its runs: 1, 2)" in capsys.readouterr().err


def test_a_moved_library_is_followed_by_tag_without_classifying_again(library, tmp_path, capsys):
    table = tmp_path / "t.csv"
    assert main(["tag", str(library), "--out", str(table), "--model", "crnn", "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()
    moved = tmp_path / "new home" / "music"
    moved.parent.mkdir()
    shutil.move(library, moved)  # a move keeps each file's size and modification time
    code, report = cli_json(["write-tags", str(table), "--min-probability", "0"], capsys)
    reasons = [f["reason"] for f in report["files"]]
    assert all(r.startswith("vanished since it was classified; if the library moved") for r in reasons)
    assert main(["tag", str(moved), "--out", str(table), "--model", "crnn", "--workers", "1", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["tagged"] == 0 and summary["moved"] == 3 and summary["rows"] == 3  # followed, not classified
    paths = set(read_table(table)["path"])
    assert paths == {str(p) for p in moved.rglob("*.*")}
    code, report = cli_json(["write-tags", str(table), "--min-probability", "0"], capsys)
    assert not [f for f in report["files"] if "since it was classified" in f["reason"]]


def held_back_table(tmp_path: Path, capsys) -> tuple[Path, list[Path]]:
    """Five real files tagged by the default model, their verdicts set: sure other music, unsure, of the ten."""
    music = tmp_path / "music"
    music.mkdir()
    files = [make_file(music, "flac", genre, name=f"f{i}") for i, genre in enumerate((None, None, "Bebop", None, None))]
    table = tmp_path / "t.parquet"
    assert main(["tag", str(music), "--out", str(table), "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()
    frame = read_table(table).sort_values("path").reset_index(drop=True)
    # f0: none of the ten, confident genre; f1: none of the ten, unsure genre; f2: none, with a genre of its own;
    # f3: the verdict says one of the ten, the stricter cut for writing holds it back ("may be none"); f4: clear.
    frame["is_other"] = [True, True, True, False, False]
    frame["other_probability"] = [0.9, 0.9, 0.9, 0.6, 0.01]
    frame["probability"] = [0.97, 0.21, 0.97, 0.97, 0.97]
    frame["outside_genre"] = None
    write_table(frame, table)
    return table, files


def test_every_hold_back_hint_names_flags_that_write_the_file(tmp_path, capsys):
    table, files = held_back_table(tmp_path, capsys)
    code, report = cli_json(["write-tags", str(table)], capsys)
    held = {Path(f["path"]).stem: f for f in report["files"] if f["action"] == "other"}
    assert set(held) == {"f0", "f1", "f2", "f3"}, [(f["path"], f["action"]) for f in report["files"]]
    assert held["f0"]["unlock"] == ["--include-other"]
    assert held["f1"]["unlock"] == ["--include-other", "--min-probability 0.21"]
    assert held["f2"]["unlock"] == ["--include-other", "--overwrite"]
    assert held["f3"]["held"] == "may be none" and held["f0"]["held"] == "none of the ten"
    for name, planned in held.items():  # the flags each hint names write that file
        flags = [part for flag in planned["unlock"] for part in flag.split()]
        code, again = cli_json(["write-tags", str(table), *flags], capsys)
        (file,) = [f for f in again["files"] if Path(f["path"]).stem == name]
        assert file["action"] == "write", (name, flags, file["reason"])
        assert " ".join(planned["unlock"]) + " writes it" in planned["reason"]

    assert main(["write-tags", str(table)]) == 0
    text = capsys.readouterr().out
    assert "4 file(s) held back as other music (3 none of the ten, 1 may be none): --include-other alone " in text
    assert "writes 2 of them" in text


def test_every_line_of_the_text_plan_names_its_file(tmp_path, capsys):
    table, files = held_back_table(tmp_path, capsys)
    assert main(["write-tags", str(table), "--moods", "--mood-min-probability", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    plan = [line for line in lines[1:] if re.match(r"^(mood:)?[a-z]+\s", line) and not line.startswith("threshold")]
    plan = [line for line in plan if not line.startswith(("moods:", "dry run", "secondary", "outside"))]
    assert len(plan) == 2 * len(files)  # a genre line and a mood line per file
    for line in plan:
        assert any(str(f) in line for f in files), line


# ---- interrupts: a real process, a real signal --------------------------------------------------


def many_files_table(tmp_path: Path, capsys, count: int = 200) -> tuple[Path, Path]:
    """`count` real FLAC files, rows copied from one tagged by the default model (so each has a mood)."""
    music = tmp_path / "music"
    music.mkdir()
    first = make_file(music, "flac", None, name="f000")
    table = tmp_path / "t.parquet"
    assert main(["tag", str(music), "--out", str(table), "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()
    row = read_table(table).iloc[0].to_dict()
    rows = []
    for i in range(count):
        path = first if i == 0 else music / f"f{i:03d}.flac"
        if i:
            shutil.copy2(first, path)
        stat = path.stat()
        rows.append({**row, "path": str(path), "size": stat.st_size, "mtime": stat.st_mtime})
    write_table(pd.DataFrame(rows), table)
    return table, music


def interrupt_when(args: list[str], ready: Path, sig: int, marker: str) -> subprocess.CompletedProcess:
    """Run the CLI; once `ready` (the journal) holds a line with `marker`, send `sig`; its output and status.

    The signal lands after the first of 200 files: the run cannot have finished by then.
    """
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "genre_core", *args], cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if ready.exists() and marker in ready.read_text():
            proc.send_signal(sig)
            break
        time.sleep(0.002)
    out, err = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out.decode(), err.decode())


@pytest.mark.parametrize(
    ("sig", "status", "what"),
    [(signal.SIGINT, 130, "genres"), (signal.SIGINT, 130, "moods"), (signal.SIGTERM, 143, "moods")],
)
def test_an_interrupt_while_writing_is_reported_and_the_table_and_journal_stay_true(
    tmp_path, capsys, sig, status, what
):
    table, music = many_files_table(tmp_path, capsys)
    journal = Path(f"{table}.undo.jsonl")
    mode = ["--min-probability", "0"] if what == "genres" else ["--moods-only", "--mood-min-probability", "0"]
    done = interrupt_when(["write-tags", str(table), *mode, "--apply"], journal, sig, '"path"')
    assert done.returncode == status, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    out = done.stdout
    assert "interrupted:" in out and f"undo: python -m genre_core write-tags --undo {journal}" in out
    assert "not written: interrupted" in out
    assert not [p.name for p in music.iterdir() if p.name.startswith(".")]  # no temporary copy left behind
    read = read_genre if what == "genres" else read_mood
    holding = {p.name for p in music.iterdir() if read(p).shown}
    entries = [json.loads(line) for line in journal.read_text().splitlines()[2:] if '"path"' in line]
    assert {Path(e["path"]).name for e in entries} >= holding and len(entries) <= len(holding) + 1
    # The summary counts what the files hold.
    counts = re.search(r"(\d+) written", out)
    written = int(counts.group(1)) if counts and what == "genres" else None
    if written is not None:
        assert written == len(holding)
    # The rerun skips no written file as "changed since", and writes the rest.
    code, report = cli_json(["write-tags", str(table), *mode, "--apply"], capsys)
    assert code == 0 and not [f for f in report["files"] if "since it was classified" in f["reason"]]
    assert all(read(p).shown for p in music.iterdir())
    # Undo takes the rerun; --all then restores the interrupted run too.
    code, reports = cli_json(["write-tags", "--undo", str(journal), "--all"], capsys)
    assert code == 0 and [r["run"] for r in reports] == [2, 1]
    assert not any(read(p).shown for p in music.iterdir())


def test_an_interrupted_undo_says_what_was_not_undone_and_undo_again_finishes(tmp_path, capsys):
    table, music = many_files_table(tmp_path, capsys)
    assert main(["write-tags", str(table), "--min-probability", "0", "--apply"]) == 0
    capsys.readouterr()
    journal = Path(f"{table}.undo.jsonl")
    done = interrupt_when(["write-tags", "--undo", str(journal)], journal, signal.SIGINT, '"mark"')
    assert done.returncode == 130 and "Traceback" not in done.stderr, done.stdout + done.stderr
    assert "not undone" in done.stdout and "undo again to finish" in done.stdout
    code, [rest] = cli_json(["write-tags", "--undo", str(journal)], capsys)
    assert code == 0 and rest["already"] >= 1 and not any(read_genre(p).shown for p in music.iterdir())
    code, report = cli_json(["write-tags", str(table), "--min-probability", "0"], capsys)
    assert {f["action"] for f in report["files"]} == {"write"}  # the table followed the restores


def test_a_read_only_files_mood_is_skipped_up_front_and_never_journalled(tmp_path, capsys):
    table, music = many_files_table(tmp_path, capsys, count=2)
    locked = music / "f001.flac"
    locked.chmod(0o444)
    moods = ["write-tags", str(table), "--moods-only", "--mood-min-probability", "0", "--apply"]
    for _ in range(2):
        code, report = cli_json(moods, capsys)
        (plan,) = [f["mood"] for f in report["files"] if f["path"] == str(locked)]
        assert plan["action"] == "skip" and plan["reason"] == "the file is read-only"
    journal = Path(report["journal"]).read_text()
    assert str(locked) not in journal and journal.count('"path"') == 1  # only the writable file, once
