"""Music outside the ten: the outside head, the verdict that agrees with the chart, and every output that carries it.

Real clips: `electronic.ogg` (4Q, AllMusic Electronic; named electronic past the write cut), `other.ogg`
(4Q, Electronic; New Age; other music, its family under the cut) and `pop_or_other.ogg` (P(other) past the
rule, but pop surer and past the write cut), all cut from `../shared/data` (tests/data/README.md).
"""

from __future__ import annotations

import csv
import io
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from conftest import CLIPS, DATA
from genre_core.classifier import GenreClassifier
from genre_core.cli import main
from genre_core.models.openset import verdict
from genre_core.models.outside import UNKNOWN, OutsideHead
from genre_core.tagging import read_table
from genre_core.tags.filetags import read_genre

ELECTRONIC = DATA / "electronic.ogg"
OTHER = DATA / "other.ogg"
POP_OR_OTHER = DATA / "pop_or_other.ogg"


@pytest.fixture(scope="module")
def classifier() -> GenreClassifier:
    return GenreClassifier.load(None, device="cpu")


def run_cli(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


# ---- the head ---------------------------------------------------------------------------------


def test_the_shipped_head_names_the_three_families_and_carries_its_measured_rules(classifier):
    head = classifier.outside_head
    assert head.families == ("electronic", "rnb", "newage") and head.classes[-1] == UNKNOWN
    assert head.write_threshold is not None and 0.5 <= head.write_threshold < 1
    assert head.name_threshold == head.write_threshold  # what the page names is what a library would get
    assert set(head.anchors["electronic"]) <= set(classifier.tag_labels)
    restored = OutsideHead.from_dict(json.loads(json.dumps(head.to_dict())))
    tags = np.random.default_rng(0).uniform(0.01, 0.5, size=(10, len(classifier.tag_labels)))
    assert restored.family_probabilities(tags) == pytest.approx(head.family_probabilities(tags))


@pytest.mark.parametrize(("family", "tag"), [("electronic", "electronic"), ("rnb", "soul"), ("newage", "ambient")])
def test_a_song_whose_own_tags_dominate_is_named_with_that_family(classifier, family, tag):
    """The zero-shot margins carry the MSD head's knowledge: raise one family's anchor tag, that family wins."""
    head = classifier.outside_head
    tags = np.full((10, len(classifier.tag_labels)), 0.02)
    tags[:, classifier.tag_labels.index(tag)] = 0.6
    probabilities = head.family_probabilities(tags)
    assert max(probabilities, key=probabilities.get) == family
    assert head.outside(tags, is_other=True) == {"genre": family, "probability": round(probabilities[family], 6)}
    assert head.outside(tags, is_other=False) is None  # never for a song the verdict keeps among the ten


def test_no_family_is_named_where_none_is_likely(classifier):
    tags = np.full((10, len(classifier.tag_labels)), 0.05)
    tags[:, classifier.tag_labels.index("jazz")] = 0.7  # a genre-like tag of no family
    assert max(classifier.outside_head.family_probabilities(tags).values()) < classifier.outside_head.name_threshold
    assert classifier.outside_head.outside(tags, is_other=True) is None
    other = classifier.predict(OTHER)  # other music whose family is under the cut: a verdict, no family
    assert other.is_other and other.outside is None


# ---- the verdict agrees with the chart --------------------------------------------------------


def test_the_verdict_yields_to_a_top_genre_that_is_written_and_surer():
    assert verdict(0.6, 0.8, threshold=0.3, genre_cut=0.71) is False  # pop 80 % past the write cut, surer
    assert verdict(0.9, 0.8, threshold=0.3, genre_cut=0.71) is True  # the verdict is surer: it stands
    assert verdict(0.6, 0.65, threshold=0.3, genre_cut=0.71) is True  # under the write cut: it stands
    assert verdict(0.2, 0.1, threshold=0.3, genre_cut=0.71) is False
    assert verdict(0.6, 0.8, threshold=0.3, genre_cut=None) is True
    both = verdict(np.array([0.6, 0.9]), np.array([0.8, 0.8]), 0.3, 0.71)
    assert both.tolist() == [False, True]


def test_a_real_clip_whose_chart_wins_is_a_song_of_the_ten(classifier):
    prediction = classifier.predict(POP_OR_OTHER)
    (genre, probability), p_other = prediction.top_k(1)[0], prediction.other_probability
    assert p_other >= classifier.open_set.threshold  # the detector alone would flag it
    assert genre == "pop" and probability >= classifier.genre_cut and probability > p_other
    assert prediction.is_other is False and prediction.outside is None


def test_electronic_music_is_other_music_named_electronic(classifier):
    prediction = classifier.predict(ELECTRONIC)
    assert prediction.is_other
    assert prediction.outside["genre"] == "electronic"
    assert prediction.outside["probability"] >= classifier.outside_head.write_threshold
    for clip in ("jazz", "classical", "metal"):
        assert classifier.predict(CLIPS[clip]).outside is None


# ---- every output format ----------------------------------------------------------------------


def test_json_csv_and_text_carry_the_outside_family(capsys):
    code, out = run_cli(capsys, "predict", str(ELECTRONIC), str(CLIPS["jazz"]), "--format", "json")
    electronic, jazz = json.loads(out)
    assert code == 0 and electronic["is_other"] and jazz["outside"] is None
    assert electronic["outside"]["genre"] == "electronic" and 0.5 <= electronic["outside"]["probability"] <= 1
    assert json.loads(run_cli(capsys, "predict", str(OTHER), "--format", "json")[1])[0]["outside"] is None
    _, out = run_cli(capsys, "predict", str(ELECTRONIC), str(CLIPS["jazz"]), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert rows[0]["outside_genre"] == "electronic" and "hip-hop" in rows[0] and "hiphop" not in rows[0]
    assert float(rows[0]["outside_probability"]) == pytest.approx(electronic["outside"]["probability"])
    assert rows[1]["outside_genre"] == rows[1]["outside_probability"] == ""
    _, out = run_cli(capsys, "predict", str(ELECTRONIC))
    assert "none of the ten genres (sounds like electronic (" in out and "closest of the ten:" in out


@pytest.fixture
def library(tmp_path):
    """A tagged folder: the electronic clip (held back, family past the write cut) and a jazz clip."""
    music = tmp_path / "music"
    music.mkdir()
    shutil.copy(ELECTRONIC, music / "electronic.ogg")
    shutil.copy(CLIPS["jazz"], music / "jazz.ogg")
    table = tmp_path / "library.parquet"
    assert main(["tag", str(music), "--out", str(table), "--workers", "1"]) == 0
    return music, table


def plan(capsys, table, *args: str) -> dict[str, dict]:
    code, out = run_cli(capsys, "write-tags", str(table), "--format", "json", *args)
    assert code == 0
    return {item["path"].rsplit("/", 1)[-1]: item for item in json.loads(out)["files"]}


def test_the_tag_table_has_the_outside_columns(library):
    _, table = library
    rows = read_table(table).set_index("path")
    electronic = rows.loc[next(p for p in rows.index if p.endswith("electronic.ogg"))]
    assert electronic["outside_genre"] == "electronic" and electronic["outside_probability"] >= 0.5
    jazz = rows.loc[next(p for p in rows.index if p.endswith("jazz.ogg"))]
    assert pd.isna(jazz["outside_genre"]) and pd.isna(jazz["outside_probability"])


def test_write_tags_writes_the_outside_family_of_a_held_back_file(library, capsys):
    music, table = library
    planned = plan(capsys, table)
    assert planned["electronic.ogg"]["action"] == "write"
    assert planned["electronic.ogg"]["reason"] == "outside the ten: electronic"
    assert planned["electronic.ogg"]["proposed"] == ["Electronic"]
    assert planned["jazz.ogg"]["proposed"] == ["Jazz"]
    code, out = run_cli(capsys, "write-tags", str(table), "--apply")
    assert code == 0 and "outside the ten: a held-back file gets its family" in out
    assert read_genre(music / "electronic.ogg").shown == ("Electronic",)


def test_no_outside_keeps_a_held_back_file_as_it_is(library, capsys):
    music, table = library
    planned = plan(capsys, table, "--no-outside")
    assert planned["electronic.ogg"]["action"] == "other"
    code, _ = run_cli(capsys, "write-tags", str(table), "--apply", "--no-outside")
    assert code == 0 and read_genre(music / "electronic.ogg").shown == ()


def test_genre_names_map_an_outside_family_like_the_ten(library, capsys, tmp_path):
    _, table = library
    names = tmp_path / "names.toml"
    names.write_text('[names]\nelectronic = "Electronica"\nrnb = ["R&B", "Soul"]\n')
    planned = plan(capsys, table, "--genre-names", str(names))
    assert planned["electronic.ogg"]["proposed"] == ["Electronica"]
    names.write_text('[names]\ntechno = "Techno"\n')
    assert main(["write-tags", str(table), "--genre-names", str(names)]) == 2
    assert "the keys are blues" in capsys.readouterr().err


def test_a_table_made_before_the_outside_head_still_plans(library, capsys, tmp_path):
    _, table = library
    old = tmp_path / "old.parquet"
    read_table(table).drop(columns=["outside_genre", "outside_probability"]).to_parquet(old, index=False)
    planned = plan(capsys, old)
    assert planned["electronic.ogg"]["action"] == "other" and planned["jazz.ogg"]["action"] == "write"
