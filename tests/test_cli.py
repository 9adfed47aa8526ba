"""The CLI's JSON contract, formats, folders and exit codes."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CLIPS
from genre_core.cli import main
from genre_core.config import GENRES, display_genre
from genre_core.models.devices import torch_installed

ROOT = Path(__file__).resolve().parents[1]


def run_cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_json_has_one_object_per_file_with_the_documented_keys(capsys):
    code, out, _ = run_cli(
        capsys,
        "predict",
        str(CLIPS["blues"]),
        str(CLIPS["metal"]),
        "--format",
        "json",
        "--top-k",
        "3",
        "--aggregate",
        "median",
    )
    assert code == 0
    results = json.loads(out)
    assert [Path(r["file"]).name for r in results] == ["blues.ogg", "metal.ogg"]
    for r in results:
        assert {"file", "genre", "top_k", "probabilities", "windows", "duration_s", "other_probability", "is_other"} | {
            "error"
        } <= set(r)
        assert r["error"] is None and len(r["top_k"]) == 3
        assert r["genre"] == r["top_k"][0]["genre"]
        assert set(r["probabilities"]) == set(GENRES)
        assert sum(r["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
        assert len(r["windows"]) == 10
        assert {"start_s", "end_s", "probabilities", "other_probability"} == set(r["windows"][0])
        assert isinstance(r["is_other"], bool) and 0 <= r["other_probability"] <= 1


def test_a_folder_means_every_audio_file_in_it(capsys, tmp_path):
    for genre in ("jazz", "pop"):
        shutil.copy(CLIPS[genre], tmp_path / f"{genre}.ogg")
    (tmp_path / "notes.txt").write_text("not audio")
    code, out, err = run_cli(capsys, "predict", str(tmp_path), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and [Path(r["file"]).name for r in rows] == ["jazz.ogg", "pop.ogg"]
    assert {display_genre(g) for g in GENRES} <= set(rows[0]) and "[2/2]" in err  # progress on stderr
    assert "hiphop" not in rows[0]  # a CSV is read by people: the genres' display spelling


def test_one_bad_file_gives_exit_1_and_the_others_still_report(capsys, tmp_path):
    bad = tmp_path / "broken.mp3"
    bad.write_text("definitely not audio")
    code, out, _ = run_cli(capsys, "predict", str(CLIPS["rock"]), str(bad), "--format", "json")
    results = json.loads(out)
    assert code == 1
    assert results[0]["error"] is None and results[0]["genre"] in GENRES
    assert results[1]["genre"] is None and "Could not read 'broken.mp3'" in results[1]["error"]


def test_table_format_names_the_genre(capsys):
    code, out, _ = run_cli(capsys, "predict", str(CLIPS["classical"]), "--top-k", "2")
    assert code == 0 and out.startswith(str(CLIPS["classical"]) + ": ")
    _, out, _ = run_cli(capsys, "predict", str(CLIPS["hiphop"]), "--top-k", "10")
    assert "hip-hop" in out and "hiphop" not in out.replace(str(CLIPS["hiphop"]), "")  # people's spelling


@pytest.mark.parametrize(
    "args",
    [
        ["predict", "/no/such/file.mp3"],
        ["predict", "x.wav", "--top-k", "0"],
        ["predict", "x.wav", "--aggregate", "mode"],
        ["fly"],
    ],
)
def test_usage_errors_exit_2(args, capsys):
    with pytest.raises(SystemExit) as raised:
        code = main(args)
        raise SystemExit(code)
    assert raised.value.code == 2


def test_module_entry_point_prints_no_traceback(tmp_path):
    bad = tmp_path / "empty.wav"
    bad.write_bytes(b"")
    done = subprocess.run(
        [sys.executable, "-m", "genre_core", "predict", str(bad)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 1
    assert "empty (0 bytes)" in done.stdout and "Traceback" not in done.stderr + done.stdout


def test_parallel_jobs_give_the_same_results_in_input_order(capsys):
    paths = [str(CLIPS[g]) for g in ("blues", "classical", "disco", "jazz", "pop")]
    assert main(["predict", *paths, "--format", "json", "--quiet"]) == 0
    one = json.loads(capsys.readouterr().out)
    assert main(["predict", *paths, "--format", "json", "--quiet", "--jobs", "3"]) == 0
    three = json.loads(capsys.readouterr().out)
    assert [r["file"] for r in three] == paths
    for a, b in zip(one, three, strict=True):
        assert a["genre"] == b["genre"]
        for genre, p in a["probabilities"].items():
            assert b["probabilities"][genre] == pytest.approx(p, abs=1e-5)


def test_a_folder_includes_audio_without_an_extension(capsys, tmp_path):
    import soundfile as sf

    samples, sr = sf.read(CLIPS["rock"], dtype="float32")
    sf.write(tmp_path / "track01", samples, sr, format="FLAC")
    (tmp_path / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0 not audio")
    code, out, _ = run_cli(capsys, "predict", str(tmp_path), "--format", "json", "--quiet")
    assert code == 0 and [Path(r["file"]).name for r in json.loads(out)] == ["track01"]


@pytest.mark.parametrize("model", ["musicnn_crnn", "crnn"])
def test_model_flag_picks_a_shipped_model_and_json_labels_its_tags(capsys, model):
    from genre_core.classifier import TAGS_SOURCE, GenreClassifier

    code, out, _ = run_cli(capsys, "predict", str(CLIPS["jazz"]), "--model", model, "--format", "json")
    assert code == 0
    (record,) = json.loads(out)
    expected = GenreClassifier.load(model, device="cpu").predict(CLIPS["jazz"])
    assert record["genre"] == expected.genre()
    if model == "musicnn_crnn":
        assert record["tags"]["source"] == TAGS_SOURCE
        assert [t["tag"] for t in record["tags"]["top"]] == [t for t, _ in expected.top_tags(5)]
    else:
        assert record["tags"] is None


def test_table_and_csv_show_the_tags_of_the_transfer_model(capsys):
    code, out, _ = run_cli(capsys, "predict", str(CLIPS["classical"]), "--model", "musicnn_crnn")
    assert code == 0 and "MSD tags (pretrained head, not genres):" in out
    code, out, _ = run_cli(capsys, "predict", str(CLIPS["classical"]), "--model", "musicnn_crnn", "--format", "csv")
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert row["msd_tags"].count(";") == 4


def test_an_unknown_model_names_the_shipped_ones_not_a_traceback(capsys):
    code, _, err = run_cli(capsys, "predict", str(CLIPS["jazz"]), "--model", "no_such_model")
    assert code == 1 and "no_such_model" in err and "musicnn_crnn, crnn" in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("command", "needs"),
    [
        ("evaluate", "the full-dataset evaluation"),
        ("holdout", "held-out-source validation"),
        ("mood", "fitting the mood head"),
        ("openset", "fitting the open-set detector"),
    ],
)
def test_a_dataset_command_without_its_manifest_is_a_one_line_usage_error(capsys, tmp_path, command, needs):
    """The full install names the missing manifest; the serve install (no torch) names the install to use."""
    extra = ["--candidates", "frozen"] if command == "holdout" else []
    absent = tmp_path / "absent.csv"
    code, _, err = run_cli(capsys, command, "--manifest", str(absent), *extra)
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1
    if torch_installed():
        assert err.strip() == f"error: no manifest at '{absent}': {needs} needs ../shared/data"
    else:
        assert err.startswith(f"error: `{command}` needs the package") and "pip install -r requirements.txt" in err
