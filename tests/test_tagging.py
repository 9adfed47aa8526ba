"""Library tagging: discovery by content, resumable chunked output, local and Ray engines."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from conftest import CLIPS
from genre_core import tagging
from genre_core.cli import main
from genre_core.library import find_audio_files
from genre_core.tagging import ChunkedOutput, TagOptions, tag_library


@pytest.fixture
def library(tmp_path: Path) -> Path:
    """A small real library: nested folders, an MP3 without extension, a cover, a broken file."""
    root = tmp_path / "music"
    (root / "artist" / "album").mkdir(parents=True)
    for genre in ("blues", "jazz", "metal"):
        shutil.copy(CLIPS[genre], root / f"{genre}.ogg")
    for genre in ("pop", "reggae"):
        shutil.copy(CLIPS[genre], root / "artist" / f"{genre}.ogg")
    samples, sr = sf.read(CLIPS["rock"], dtype="float32")
    sf.write(root / "artist" / "album" / "track01", samples, sr, format="MP3")
    (root / "artist" / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "artist" / "album" / "notes.txt").write_text("liner notes")
    (root / "artist" / "album" / "broken.mp3").write_text("not audio")
    return root


def test_discovery_finds_audio_by_extension_and_by_content(library):
    names = [p.name for p in find_audio_files(library)]
    assert names == ["blues.ogg", "jazz.ogg", "metal.ogg", "pop.ogg", "reggae.ogg", "broken.mp3", "track01"]


def rows_by_name(path: Path) -> dict[str, dict]:
    frame = pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)
    return {Path(p).name: row for p, row in zip(frame["path"], frame.to_dict("records"), strict=True)}


def test_local_engine_matches_the_single_file_cli(library, tmp_path, capsys):
    out = tmp_path / "tags.parquet"
    summary = tag_library(library, out, TagOptions(), workers=2)
    assert summary["tagged"] == 7 and summary["failed"] == 1 and summary["rows"] == 7
    rows = rows_by_name(out)
    assert "Could not read 'broken.mp3'" in rows["broken.mp3"]["error"]
    assert (
        main(
            [
                "predict",
                str(library / "jazz.ogg"),
                str(library / "artist" / "album" / "track01"),
                "--format",
                "json",
                "--quiet",
            ]
        )
        == 0
    )
    for single in json.loads(capsys.readouterr().out):
        row = rows[Path(single["file"]).name]
        assert row["genre"] == single["genre"] and pd.isna(row["error"])
        for genre, p in single["probabilities"].items():
            assert row[f"p_{genre}"] == pytest.approx(p, abs=1e-5)
        assert [t["genre"] for t in json.loads(row["top3"])] == [t["genre"] for t in single["top_k"][:3]]
        assert row["strategy"] == "spread" and len(row["model_id"]) == 12


def test_rerun_skips_done_files_and_retags_changed_ones(library, tmp_path):
    out = tmp_path / "tags.csv"
    tag_library(library, out, TagOptions(), workers=1)
    again = tag_library(library, out, TagOptions(), workers=1)
    assert again["tagged"] == 0 and again["skipped"] == 7 and again["rows"] == 7
    shutil.copy(CLIPS["country"], library / "jazz.ogg")  # the file changed: new size and mtime
    third = tag_library(library, out, TagOptions(), workers=1)
    assert third["tagged"] == 1 and rows_by_name(out)["jazz.ogg"]["size"] == CLIPS["country"].stat().st_size


def test_a_crash_loses_at_most_the_chunk_in_flight(library, tmp_path, monkeypatch):
    monkeypatch.setattr(tagging, "CHUNK_ROWS", 2)
    out = tmp_path / "tags.parquet"
    output = ChunkedOutput(out)
    seen: list[int] = []

    def crash_after_five(done: int, total: int) -> None:
        seen.append(done)
        if done == 5:
            output.merge = lambda: None  # the process dies: no final merge happens
            raise SystemExit("killed")

    monkeypatch.setattr(tagging, "ChunkedOutput", lambda path: output)
    with pytest.raises(SystemExit):
        tag_library(library, out, TagOptions(), workers=1, progress=crash_after_five)
    saved = pd.concat([pd.read_parquet(p) for p in output.parts.glob("part-*.parquet")])
    assert len(saved) >= 4  # two whole chunks of 2; only the chunk in flight may be lost
    monkeypatch.undo()
    resumed = tag_library(library, out, TagOptions(), workers=1)
    assert resumed["skipped"] >= 4 and resumed["rows"] == 7
    assert not output.parts.exists()


def test_ctrl_c_leaves_a_valid_output(library, tmp_path):
    out = tmp_path / "tags.parquet"

    def interrupt(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    summary = tag_library(library, out, TagOptions(), workers=1, progress=interrupt)
    assert summary["interrupted"] and len(pd.read_parquet(out)) == 3


def test_cli_tag_writes_parquet(library, tmp_path, capsys):
    out = tmp_path / "cli.parquet"
    assert main(["tag", str(library), "--out", str(out), "--workers", "1", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out)["rows"] == 7 and len(pd.read_parquet(out)) == 7


def test_ray_engine_gives_the_same_table_as_the_local_engine(library, tmp_path):
    local, distributed = tmp_path / "local.parquet", tmp_path / "ray.parquet"
    tag_library(library, local, TagOptions(), workers=2)
    summary = tag_library(library, distributed, TagOptions(), engine="ray", workers=2)
    assert summary["engine"] == "ray" and summary["rows"] == 7
    a, b = pd.read_parquet(local), pd.read_parquet(distributed)
    assert list(a["path"]) == list(b["path"])
    assert list(a["genre"].fillna("")) == list(b["genre"].fillna(""))
    probs = [c for c in a if c.startswith("p_")]
    np.testing.assert_allclose(a[probs].to_numpy(float), b[probs].to_numpy(float), atol=1e-5, equal_nan=True)


def test_a_file_that_disappears_mid_run_is_recorded_not_fatal(tmp_path):
    from genre_core.classifier import GenreClassifier
    from genre_core.tagging import tag_file

    row = tag_file(GenreClassifier.load(device="cpu"), str(tmp_path / "gone.mp3"), TagOptions(), "abc")
    assert row["genre"] is None and "cannot read the file" in row["error"]


def test_a_resumed_run_counts_skipped_files_apart_and_says_so(tmp_path, capsys):
    """Resuming: the bar starts at the files left, and the last line says classified, skipped and failed."""
    from genre_core.cli import main

    music = tmp_path / "music"
    music.mkdir()
    for genre in ("jazz", "rock"):
        shutil.copy(CLIPS[genre], music / f"{genre}.ogg")
    out = tmp_path / "t.parquet"
    assert main(["tag", str(music), "--out", str(out), "--workers", "1"]) == 0
    assert "2 classified, 0 skipped (already in the table), 0 failed" in capsys.readouterr().err
    (music / "broken.mp3").write_bytes(b"not audio at all")
    assert main(["tag", str(music), "--out", str(out), "--workers", "1"]) == 0
    err = capsys.readouterr().err
    assert "0 classified, 2 skipped (already in the table), 1 failed" in err
    assert "1/1" in err and "3/3" not in err  # the bar counts the one file left, not the skipped ones


def test_threads_per_worker_reach_each_workers_model_and_zero_is_a_usage_error(library, tmp_path, capsys):
    """Two threads in one worker give the same table as one; `--threads-per-worker 0` is refused before work."""
    out1, out2 = tmp_path / "one.parquet", tmp_path / "two.parquet"
    common = ["tag", str(library), "--workers", "1", "--quiet", "--model", "crnn"]
    assert main([*common, "--out", str(out1)]) == 0
    assert main([*common, "--out", str(out2), "--threads-per-worker", "2"]) == 0
    one, two = pd.read_parquet(out1), pd.read_parquet(out2)
    assert list(one["genre"]) == list(two["genre"])
    np.testing.assert_allclose(one["probability"], two["probability"], atol=1e-5)
    capsys.readouterr()
    assert main([*common, "--out", str(tmp_path / "x.parquet"), "--threads-per-worker", "0"]) == 2
    assert "--threads-per-worker must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "x.parquet").exists()
