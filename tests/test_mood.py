"""Moods: the mood head, its outputs, writing the mood field of every format, undo, the threshold rule.

Real audio throughout: the committed clips, tagged as a library file is, and the shipped default model.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import mutagen
import numpy as np
import pytest
from mutagen.id3 import ID3

from conftest import CLIPS, TAGGED_FORMATS, make_file
from genre_core import GenreClassifier
from genre_core.cli import main
from genre_core.config import GENRES, MOOD_LABELS, MOODS
from genre_core.models.mood import MoodHead, mood_record
from genre_core.models.registry import SHIPPED_MODELS
from genre_core.tags.filetags import read_genre, read_mood

#: Where each format keeps its mood, as mutagen shows the raw tags.
RAW_KEY = {
    "mp3-v2.4": "TMOO",
    "mp3-v2.3": "TXXX:MOOD",
    "flac": "mood",
    "ogg": "mood",
    "opus": "mood",
    "m4a": "----:com.apple.iTunes:MOOD",
}


def raw_mood(path: Path, fmt: str) -> list[str] | None:
    """The mood exactly as mutagen reads it from the file, by the format's own key."""
    if fmt.startswith("mp3"):
        frame = ID3(path).get(RAW_KEY[fmt])
        return None if frame is None else [str(t) for t in frame.text]
    tags = mutagen.File(path).tags
    if fmt == "m4a":
        values = tags.get(RAW_KEY[fmt])
        return None if values is None else [bytes(v).decode() for v in values]
    values = [v for k, v in tags if k.lower() == "mood"]
    return values or None


def test_the_default_model_has_a_mood_head_and_the_fast_model_none() -> None:
    default = GenreClassifier.load("musicnn_crnn", device="cpu")
    fast = GenreClassifier.load("crnn", device="cpu")
    assert default.mood_head is not None and fast.mood_head is None
    mood = default.predict(CLIPS["classical"]).mood
    assert set(mood) == {"quadrant", "label", "probabilities", "arousal", "valence"}
    assert mood["label"] == MOOD_LABELS[mood["quadrant"]] and list(mood["probabilities"]) == list(MOODS)
    assert sum(mood["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    p = mood["probabilities"]
    assert mood["arousal"] == pytest.approx(p["Q1"] + p["Q2"], abs=1e-5)
    assert mood["valence"] == pytest.approx(p["Q1"] + p["Q4"], abs=1e-5)
    assert fast.predict(CLIPS["classical"]).mood is None
    # Metal sounds more energetic than classical to the head (arousal), as listeners would say.
    assert default.predict(CLIPS["metal"]).mood["arousal"] > mood["arousal"]


def test_the_mood_is_the_same_through_onnx_runtime_and_pytorch() -> None:
    onnx = GenreClassifier.load("musicnn_crnn", device="cpu", runtime="onnx")
    torch_run = GenreClassifier.load("musicnn_crnn", device="cpu", runtime="torch")
    for genre in ("jazz", "rock", "reggae"):
        a, b = onnx.predict(CLIPS[genre]).mood, torch_run.predict(CLIPS[genre]).mood
        assert a["quadrant"] == b["quadrant"]
        np.testing.assert_allclose(list(a["probabilities"].values()), list(b["probabilities"].values()), atol=1e-5)


def test_the_head_survives_its_storage() -> None:
    head = GenreClassifier.load("musicnn_crnn", device="cpu").mood_head
    again = MoodHead.from_dict(json.loads(json.dumps(head.to_dict())))
    x = np.random.default_rng(0).normal(size=(3, 50))
    np.testing.assert_allclose(again.probabilities(x), head.probabilities(x))
    assert mood_record(np.array([0.1, 0.2, 0.3, 0.4]))["quadrant"] == "Q4"


def test_predict_json_and_csv_carry_the_mood(capsys) -> None:
    assert main(["predict", str(CLIPS["jazz"]), "--format", "json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["mood"]["label"] in MOOD_LABELS.values()
    assert main(["predict", str(CLIPS["jazz"]), "--format", "csv"]) == 0
    (row,) = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert row["mood"] == record["mood"]["label"] and float(row["arousal"]) == pytest.approx(record["mood"]["arousal"])
    assert float(row["mood_probability"]) == pytest.approx(record["mood"]["probabilities"][record["mood"]["quadrant"]])
    assert main(["predict", str(CLIPS["jazz"]), "--format", "json", "--model", "crnn"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["mood"] is None


def test_write_tags_moods_in_every_format_read_back_by_mutagen_and_undone(tmp_path: Path, capsys) -> None:
    library = tmp_path / "library"
    library.mkdir()
    files = {fmt: make_file(library, fmt, "Bebop", name=fmt.replace(".", "_")) for fmt in TAGGED_FORMATS}
    genres_before = {fmt: read_genre(p).fields for fmt, p in files.items()}
    table = tmp_path / "t.csv"
    assert main(["tag", str(library), "--out", str(table), "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()

    # A dry run shows existing → proposed moods and changes nothing.
    code = main(["write-tags", str(table), "--moods-only", "--mood-min-probability", "0"])
    out = capsys.readouterr().out
    assert code == 0 and out.count("mood:write") == len(files) and "→" in out
    assert all(raw_mood(p, fmt) is None for fmt, p in files.items())

    code = main(["write-tags", str(table), "--moods-only", "--mood-min-probability", "0", "--apply"])
    out = capsys.readouterr().out
    assert code == 0 and "moods: p >= 0.00; " in out and "written" in out
    for fmt, path in files.items():
        (label,) = raw_mood(path, fmt)
        assert label in MOOD_LABELS.values(), fmt
        assert read_mood(path).shown == (label,)
        assert read_genre(path).fields == genres_before[fmt], fmt  # --moods-only leaves genres alone

    journal = tmp_path / "t.csv.undo.jsonl"
    assert main(["write-tags", "--undo", str(journal)]) == 0
    capsys.readouterr()
    for fmt, path in files.items():
        assert raw_mood(path, fmt) is None, fmt
        assert read_genre(path).fields == genres_before[fmt], fmt


def test_moods_are_written_when_no_genre_passes_and_keep_an_existing_mood(tmp_path: Path, capsys) -> None:
    library = tmp_path / "library"
    library.mkdir()
    path = make_file(library, "flac", None, name="song")
    table = tmp_path / "t.csv"
    assert main(["tag", str(library), "--out", str(table), "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()
    # No genre can reach p >= 1, the mood can reach p >= 0: the genre is `below`, the mood is written.
    code = main(["write-tags", str(table), "--moods", "--min-probability", "1", "--mood-min-probability", "0"])
    report = capsys.readouterr().out
    assert code == 0 and "below" in report and "mood:write" in report
    assert (
        main(["write-tags", str(table), "--moods", "--min-probability", "1", "--mood-min-probability", "0", "--apply"])
        == 0
    )
    capsys.readouterr()
    assert read_genre(path).shown == () and len(read_mood(path).shown) == 1
    # JSON: each file's mood plan; a file that has a mood keeps it without --overwrite.
    assert main(["write-tags", str(table), "--moods-only", "--mood-min-probability", "0", "--format", "json"]) == 0
    (planned,) = json.loads(capsys.readouterr().out)["files"]
    assert planned["mood"]["action"] in ("same", "keep")


def test_moods_without_a_measured_rule_are_refused_with_the_reason(tmp_path: Path, capsys) -> None:
    library = tmp_path / "library"
    library.mkdir()
    make_file(library, "ogg", None, name="song")
    table = tmp_path / "t.csv"
    assert main(["tag", str(library), "--out", str(table), "--workers", "1", "--quiet", "--model", "crnn"]) == 0
    capsys.readouterr()
    assert main(["write-tags", str(table), "--moods", "--model", "crnn"]) == 2
    assert "no mood head" in capsys.readouterr().err


def test_the_mood_head_trains_on_a_tiny_manifest(tmp_path: Path) -> None:
    """`mood` end to end on twelve real clips: C by artist-grouped CV, T and the cut on valid, stored."""
    from genre_core.training.mood import fit_mood

    data = tmp_path / "data"
    (data / "audio").mkdir(parents=True)
    rows = []
    clips = [*GENRES, "jazz", "rock"]
    for i, genre in enumerate(clips):
        name = f"audio/{genre}_{i}.ogg"
        shutil.copy(CLIPS[genre], data / name)
        split = "train" if i < 8 else "valid" if i < 10 else "test"
        rows.append(
            {
                "path": name,
                "genre": genre,
                "source": "4q",
                "track_id": str(i),
                "group": f"artist{i}",
                "split": split,
                "quality": "preview",
                "duration_s": "6.0",
                "origin": "",
                "license": "",
                "source_genres": "",
                "mood": MOODS[i % 4],
            }
        )
    with (data / "manifest.csv").open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    model = tmp_path / "model.pt"
    shutil.copy(SHIPPED_MODELS["musicnn_crnn"], model)
    shutil.copy(SHIPPED_MODELS["musicnn_crnn"].with_suffix(".onnx"), model.with_suffix(".onnx"))
    head = fit_mood(model, data / "manifest.csv")
    assert head["info"]["valid"]["recordings"] == 2 and head["info"]["test"]["recordings"] == 2
    assert set(head["info"]["cross_validation"]) == {"0.03", "0.1", "0.3", "1.0"}
    assert head["temperature"] > 0
    reloaded = GenreClassifier.load(model, device="cpu")
    assert reloaded.mood_head is not None and reloaded.predict(CLIPS["pop"]).mood["label"] in MOOD_LABELS.values()


def everything_tagged(path: Path) -> list[str]:
    """Every tag of the file as mutagen stores it, for 'nothing else changed'."""
    tags = mutagen.File(path).tags
    items = tags.items() if hasattr(tags, "items") else list(tags)
    return sorted(repr(item) for item in items)


def test_a_mood_write_changes_nothing_else_and_a_hard_link_sees_it(tmp_path: Path, capsys) -> None:
    from test_write_tags import decoded

    library = tmp_path / "library"
    library.mkdir()
    path = make_file(library, "flac", "Bebop", name="song")
    link = tmp_path / "elsewhere.flac"
    link.hardlink_to(path)
    tags_before, audio_before = everything_tagged(path), decoded(path)
    table = tmp_path / "t.csv"
    assert main(["tag", str(library), "--out", str(table), "--workers", "1", "--quiet"]) == 0
    assert main(["write-tags", str(table), "--moods-only", "--mood-min-probability", "0", "--apply"]) == 0
    capsys.readouterr()
    (mood,) = read_mood(link).shown  # written in place: the other name sees it too
    assert path.stat().st_ino == link.stat().st_ino and read_mood(path).shown == (mood,)
    np.testing.assert_array_equal(decoded(path), audio_before)
    assert main(["write-tags", "--undo", str(tmp_path / "t.csv.undo.jsonl")]) == 0
    assert everything_tagged(path) == tags_before


def test_no_measured_mood_rule_is_refused_unless_a_threshold_is_given(tmp_path: Path) -> None:
    from genre_core.errors import UsageError
    from genre_core.models.checkpoint import load_checkpoint, save_checkpoint
    from genre_core.tags.write_moods import mood_threshold

    model = tmp_path / "model.pt"
    ckpt = load_checkpoint("musicnn_crnn")
    calibration = {**ckpt.calibration, "mood": {**ckpt.calibration["mood"], "write_threshold": None}}
    save_checkpoint(model, ckpt.model, ckpt.config, ckpt.metrics, ckpt.training, calibration, export=False)
    with pytest.raises(UsageError, match="no measured rule for moods"):
        mood_threshold(model, None)
    assert mood_threshold(model, 0.4) == 0.4
    with pytest.raises(UsageError, match="between 0 and 1"):
        mood_threshold(model, 1.5)
