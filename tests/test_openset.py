"""The open-set verdict: is a song none of the ten genres? Detector, outputs, write-tags, beets rules.

Real audio: `tests/data/other.ogg` is a test-split 4Q recording of none of the ten genres
(AllMusic: Electronic; New Age) that the default model flags; the GTZAN clips are of the ten.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import CLIPS, DATA, make_file
from genre_core import GenreClassifier
from genre_core.cli import main
from genre_core.models.openset import OpenSetDetector, transform
from genre_core.models.registry import DEFAULT_MODEL, SHIPPED_MODELS
from genre_core.tags.filetags import read_genre
from genre_core.tags.write_tags import held_back_as_other, plan_table, verdict_of
from genre_core.tags.write_thresholds import Threshold, measured_threshold
from genre_core.training.openset import choose_threshold, choose_write_rule, fit_detector, write_figures

OTHER = DATA / "other.ogg"


@pytest.fixture(scope="module")
def default() -> GenreClassifier:
    return GenreClassifier.load(DEFAULT_MODEL, device="cpu")


def test_every_shipped_model_carries_a_fitted_detector_with_a_rule(default: GenreClassifier) -> None:
    for name in SHIPPED_MODELS:
        clf = default if name == DEFAULT_MODEL else GenreClassifier.load(name, device="cpu")
        assert clf.open_set is not None, name
        assert 0 < clf.open_set.threshold < 1, name
        info = clf.open_set.info
        assert info["holdout"]["chosen"] == info["design"], name
        chosen = info["holdout"]["candidates"][info["design"]]["held_out_mean"]
        assert chosen == max(c["held_out_mean"] for c in info["holdout"]["candidates"].values()), name
        assert info["valid"]["ten_genre_flagged"] <= 0.05, name  # the rule, on the split it was chosen on
    assert default.open_set.inputs == ("genres", "tags")


def test_a_song_of_none_of_the_ten_is_flagged_and_songs_of_the_ten_are_not(default: GenreClassifier) -> None:
    other = default.predict(OTHER)
    assert other.is_other is True and other.other_probability >= default.open_set.threshold
    ten = [default.predict(CLIPS[g]) for g in ("classical", "jazz", "metal")]
    assert all(p.is_other is False for p in ten), [p.other_probability for p in ten]
    assert max(p.other_probability for p in ten) < other.other_probability
    # Per window too, for the timeline; the whole-track verdict reads the windows' mean outputs.
    assert other.window_other_probs.shape == (len(other.starts_s),)
    assert ((other.window_other_probs >= 0) & (other.window_other_probs <= 1)).all()


def test_the_verdict_does_not_move_with_the_temperature(default: GenreClassifier) -> None:
    """The detector reads uncalibrated probabilities, so re-fitting T in `calibrate` cannot shift it."""
    before = default.predict(OTHER).other_probability
    default.temperature *= 2
    try:
        assert default.predict(OTHER).other_probability == pytest.approx(before, abs=1e-9)
    finally:
        default.temperature /= 2


def test_the_detector_survives_its_storage_and_names_what_it_cannot_read() -> None:
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 1, (80, 3)), rng.normal(2, 1, (20, 3))]
    y = np.r_[np.zeros(80, bool), np.ones(20, bool)]
    detector = fit_detector(x, y, ("genres",))
    again = OpenSetDetector.from_dict(json.loads(json.dumps(detector.to_dict())))
    np.testing.assert_allclose(again.probability(x), detector.probability(x))
    assert detector.probability(x[y]).mean() > detector.probability(x[~y]).mean()
    with pytest.raises(ValueError, match="tags"):
        OpenSetDetector(("tags",), np.zeros(1), np.ones(1), np.ones(1), 0.0).features({"genres": np.ones((2, 10))})
    assert np.isfinite(transform("tags", np.array([[0.0, 1.0]]))).all()


def test_the_rule_flags_at_most_five_percent_of_songs_of_the_ten() -> None:
    p_ten = np.random.default_rng(1).uniform(size=281)
    cut = choose_threshold(p_ten)
    assert np.mean(p_ten >= cut) <= 0.05
    assert np.mean(p_ten >= np.max(p_ten[p_ten < cut])) > 0.05  # and it is the loosest such cut


def test_the_write_rule_reaches_ninety_percent_on_a_70_30_library() -> None:
    rng = np.random.default_rng(2)
    n_ten, n_other = 300, 30
    other = np.r_[np.zeros(n_ten, bool), np.ones(n_other, bool)]
    top = rng.uniform(0.3, 1.0, n_ten + n_other)
    correct = rng.uniform(size=n_ten + n_other) < top  # confident songs are more often right
    p_other = np.where(other, rng.uniform(0.2, 1.0, len(other)), rng.uniform(0.0, 0.5, len(other)))
    cut, max_other = choose_write_rule(correct, top, p_other, other, tag_cut=0.6)
    chosen = write_figures(correct, top, p_other, other, cut, max_other)
    assert cut >= 0.6 and chosen["library_precision_70_30"] >= 0.9 and chosen["ten_genre_written_count"] >= 30
    loose = write_figures(correct, top, p_other, other, 0.6, np.inf)
    assert loose["library_precision_70_30"] < 0.9  # the open-set cut is what makes the difference here
    w, r, o = chosen["ten_genre_written"], chosen["ten_genre_written_right"], chosen["other_written"]
    assert chosen["library_precision_70_30"] == pytest.approx(0.7 * w * r / (0.7 * w + 0.3 * o))


def run_cli(capsys: pytest.CaptureFixture, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def test_predict_json_csv_and_table_carry_the_verdict(capsys: pytest.CaptureFixture) -> None:
    code, out = run_cli(capsys, "predict", str(OTHER), str(CLIPS["jazz"]), "--format", "json", "--quiet")
    other, jazz = json.loads(out)
    assert code == 0 and other["is_other"] is True and jazz["is_other"] is False
    assert isinstance(other["other_probability"], float) and other["other_probability"] > jazz["other_probability"]
    assert all("other_probability" in w for w in other["windows"])

    code, out = run_cli(capsys, "predict", str(OTHER), "--format", "csv")
    (row,) = list(csv.DictReader(io.StringIO(out)))
    assert row["is_other"] == "true" and float(row["other_probability"]) == pytest.approx(other["other_probability"])

    code, out = run_cli(capsys, "predict", str(OTHER))
    assert "none of the ten genres" in out and "closest of the ten:" in out


def test_a_file_that_fails_still_has_both_fields(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    bad = tmp_path / "text.mp3"
    bad.write_text("not audio")
    code, out = run_cli(capsys, "predict", str(bad), "--format", "json")
    (record,) = json.loads(out)
    assert code == 1 and record["error"] and record["other_probability"] is None and record["is_other"] is None


def tagged_library(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A library of two files: the other-music clip and a classical clip, as MP3s without genres."""
    library = tmp_path / "library"
    library.mkdir()
    other = make_file(library, "mp3-v2.4", None, name="other", clip="other")
    classical = make_file(library, "mp3-v2.4", None, name="classical", clip="classical")
    return library, other, classical


def test_tag_then_write_tags_holds_back_other_music_unless_asked(tmp_path: Path, capsys) -> None:
    library, other, classical = tagged_library(tmp_path)
    table = tmp_path / "genres.csv"
    assert main(["tag", str(library), "--out", str(table), "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()
    rows = pd.read_csv(table).set_index("path")
    assert {"other_probability", "is_other"} <= set(rows.columns)
    assert bool(rows.loc[str(other), "is_other"]) is True and bool(rows.loc[str(classical), "is_other"]) is False

    code, out = run_cli(capsys, "write-tags", str(table), "--min-probability", "0", "--format", "json")
    plan = {Path(f["path"]).stem: f for f in json.loads(out)["files"]}
    assert plan["other"]["action"] == "other" and "none of the ten genres (p_other" in plan["other"]["reason"]
    assert json.loads(out)["summary"]["other"] == 1 and json.loads(out)["open_set_verdict"] is True

    code, out = run_cli(capsys, "write-tags", str(table), "--min-probability", "0", "--apply")
    assert "1 file(s) held back as other music (1 none of the ten): --include-other writes them" in out
    assert read_genre(other).shown == ()

    code, out = run_cli(capsys, "write-tags", str(table), "--min-probability", "0", "--apply", "--include-other")
    assert read_genre(other).shown != ()  # written under the usual (given) threshold


def test_a_table_made_before_the_verdict_still_plans_and_says_so_once(tmp_path: Path, capsys) -> None:
    library, other, classical = tagged_library(tmp_path)
    table = tmp_path / "genres.csv"
    assert main(["tag", str(library), "--out", str(table), "--workers", "1", "--quiet"]) == 0
    old = pd.read_csv(table).drop(columns=["other_probability", "is_other"])
    old.to_csv(table, index=False)
    capsys.readouterr()
    code, out = run_cli(capsys, "write-tags", str(table), "--min-probability", "0")
    assert code == 0 and out.count("made before the open-set verdict") == 1
    assert "other " not in out.split("dry run:")[1]  # no file is held back: their verdict is unknown
    code, out = run_cli(capsys, "write-tags", str(table), "--min-probability", "0", "--format", "json")
    report = json.loads(out)
    assert report["open_set_verdict"] is False and "note" in report
    assert {f["action"] for f in report["files"]} == {"write"}


def test_the_write_rule_holds_back_songs_near_the_line_and_given_thresholds_keep_it() -> None:
    threshold = Threshold(0.5, "given", max_other_probability=0.2)
    assert held_back_as_other({"is_other": False, "other_probability": 0.25}, threshold)
    assert not held_back_as_other({"is_other": False, "other_probability": 0.1}, threshold)
    assert held_back_as_other({"is_other": True, "other_probability": 0.9}, Threshold(0.5, "given"))
    assert verdict_of({"is_other": float("nan")}) is None and verdict_of({"is_other": "True"}) is True
    measured = measured_threshold(DEFAULT_MODEL)
    rule = GenreClassifier.load(DEFAULT_MODEL).open_set.info["write_rule"]
    assert measured.max_other_probability == rule["max_other_probability"]
    assert measured.min_probability == max(rule["min_probability"], measured.min_probability)
    table = pd.DataFrame(
        [
            {
                "path": str(CLIPS["jazz"]),
                "genre": "jazz",
                "probability": 0.9,
                "other_probability": 0.25,
                "is_other": False,
                "model_id": "m",
                "size": None,
                "mtime": None,
            }
        ]
    )
    (planned,) = plan_table(table, {"m": threshold}, overwrite=False)
    assert planned.action == "skip"  # size/mtime unknown: the file is not trusted to be the classified one
