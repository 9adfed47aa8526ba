"""Several genres per file, the way players list them: modes, real multi-value tags, exact undo, hard links.

Each file is a real clip (tests/data) in the format under test with the other tags a
library file has; "nothing else changes" and "the audio is untouched" are checked on it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import mutagen
import numpy as np
import pandas as pd
import pytest
from mediafile import MediaFile
from mutagen.id3 import ID3
from test_write_tags import decoded, other_tags

from conftest import TAGGED_FORMATS, make_file
from genre_core.cli import main
from genre_core.config import GENRES
from genre_core.tags.filetags import read_genre, with_genres, write_genre
from genre_core.tags.tag_journal import Journal, undo
from genre_core.tags.write_tags import apply_plan, decide, genres_to_write, plan_table, proposed_genres
from genre_core.tags.write_thresholds import Threshold
from genre_core.training.calibrate import secondary_candidates, secondary_threshold

EXISTING = ["Bebop", "Jazz"]
#: The model's view of every file here: jazz first, blues a confident second, rock a weak third.
PROBS = {"jazz": 0.62, "blues": 0.30, "rock": 0.05}
EXPECTED = {
    "replace": ["Jazz", "Blues"],
    "append": ["Bebop", "Jazz", "Blues"],
    "merge": ["Jazz", "Blues", "Bebop"],
}


def table_for(paths: list[Path]) -> pd.DataFrame:
    """A `tag` table row per file, with every genre's probability, as `tag` writes it."""
    rows = []
    for path in paths:
        stat = path.stat()
        row = {"path": str(path), "size": stat.st_size, "mtime": stat.st_mtime, "genre": "jazz", "probability": 0.62}
        row |= {f"p_{g}": PROBS.get(g, 0.0) for g in GENRES}
        rows.append(row | {"model_id": "m", "error": None})
    return pd.DataFrame(rows)


THRESHOLD = {"m": Threshold(0.5, "given", secondary_min_probability=0.2)}


def raw_values(path: Path) -> list[str]:
    """The genre values exactly as the container stores them, read by mutagen."""
    audio = mutagen.File(path)
    if path.suffix == ".mp3":
        return list(ID3(path, translate=False)["TCON"].text)
    if path.suffix == ".m4a":
        return list(audio.tags["©gen"])
    return [v for k, v in audio.tags if k.lower() == "genre"]


def audio_payload(path: Path) -> bytes:
    """An MP3's bytes after its ID3v2 tag: the audio frames themselves."""
    data = path.read_bytes()
    if data[:3] != b"ID3":
        return data
    size = sum(b << (7 * (3 - i)) for i, b in enumerate(data[6:10]))
    return data[10 + size :]


def test_modes_decide_the_list_and_never_duplicate():
    assert proposed_genres(["Bebop", "jazz"], ["Jazz", "Blues"], "replace") == ("Jazz", "Blues")
    assert proposed_genres(["Bebop", "jazz"], ["Jazz", "Blues"], "append") == ("Bebop", "jazz", "Blues")
    assert proposed_genres(["Bebop", "jazz"], ["Jazz", "Blues"], "merge") == ("Jazz", "Blues", "Bebop")
    assert decide(["Bebop"], ["jazz"], 0.9, 0.5, False, "append") == (
        "write",
        "adds 'Jazz' after 'Bebop'",
        ("Bebop", "Jazz"),
    )
    assert decide(["Bebop"], ["jazz"], 0.9, 0.5, False, "replace")[0] == "keep"  # replace still needs --overwrite
    assert decide(["Bebop", "Jazz"], ["jazz"], 0.9, 0.5, False, "append")[0] == "same"
    assert decide(["Jazz", "Bebop"], ["jazz"], 0.9, 0.5, False, "merge")[0] == "same"
    assert decide(["Bebop", "Jazz"], ["jazz"], 0.9, 0.5, False, "merge")[2] == ("Jazz", "Bebop")  # reordered
    assert decide(["Bebop"], ["jazz"], 0.4, 0.5, False, "merge")[0] == "below"


def test_secondary_genres_need_their_own_threshold_and_the_max():
    row = {"genre": "jazz"} | {f"p_{g}": PROBS.get(g, 0.0) for g in GENRES}
    assert genres_to_write(row, THRESHOLD["m"], 1) == ["jazz"]
    assert genres_to_write(row, THRESHOLD["m"], 3) == ["jazz", "blues"]  # rock's 0.05 is under 0.2
    assert genres_to_write(row, Threshold(0.5, "given", secondary_min_probability=0.01), 3) == ["jazz", "blues", "rock"]
    assert genres_to_write(row, Threshold(0.5, "given"), 3) == ["jazz"]  # no secondary rule: the top genre only


@pytest.mark.parametrize("mode", ["replace", "append", "merge"])
@pytest.mark.parametrize("fmt", TAGGED_FORMATS)
def test_each_mode_writes_real_multi_values_and_undo_restores_the_list(tmp_path, fmt, mode):
    path = make_file(tmp_path, fmt, None)
    write_genre(path, with_genres(read_genre(path), EXISTING))  # a curated two-genre file
    before, others, samples = read_genre(path), other_tags(path), decoded(path)
    assert list(before.shown) == EXISTING

    planned = plan_table(table_for([path]), THRESHOLD, overwrite=True, mode=mode, max_genres=3)
    assert planned[0].action == "write" and list(planned[0].proposed) == EXPECTED[mode]
    journal = Journal(tmp_path / "undo.jsonl")
    assert apply_plan(planned, journal) is None and planned[0].action == "written"

    assert list(read_genre(path).shown) == EXPECTED[mode]
    if fmt == "mp3-v2.3":  # ID3v2.3 has no multiple values: mutagen joins them with "/", beets reads one value
        assert ID3(path).version[:2] == (2, 3)
        assert raw_values(path) == ["/".join(EXPECTED[mode])]
        assert MediaFile(str(path)).genres == ["/".join(EXPECTED[mode])]
    else:  # separate values, for mutagen and for beets
        assert raw_values(path) == EXPECTED[mode]
        assert MediaFile(str(path)).genres == EXPECTED[mode]
    assert other_tags(path) == others
    np.testing.assert_array_equal(decoded(path), samples)

    entry = journal.entries()[0]
    assert entry["before"]["shown"] == EXISTING  # the full previous list, not its first value
    assert [r.action for r in undo(journal)[0].files] == ["restored"]
    assert read_genre(path).fields == before.fields and list(read_genre(path).shown) == EXISTING
    assert other_tags(path) == others
    np.testing.assert_array_equal(decoded(path), samples)


@pytest.mark.parametrize("fmt", ["mp3-v2.4", "flac"])
def test_a_hard_linked_file_is_written_in_place_and_every_link_sees_it(tmp_path, fmt, capsys):
    library, downloads = tmp_path / "library", tmp_path / "downloads"
    library.mkdir()
    downloads.mkdir()
    path = make_file(library, fmt, "Bebop")
    link = downloads / path.name
    os.link(path, link)
    inode, payload, samples, others = path.stat().st_ino, audio_payload(path), decoded(path), other_tags(path)

    table = tmp_path / "genres.csv"
    table_for([path]).to_csv(table, index=False)
    args = ["write-tags", str(table), "--min-probability", "0.5", "--secondary-min-probability", "0.2"]
    assert main([*args, "--max-genres", "2", "--mode", "merge", "--apply"]) == 0
    out = capsys.readouterr().out
    assert "written in place" in out and str(path) in out

    assert path.stat().st_ino == inode == link.stat().st_ino and path.stat().st_nlink == 2
    assert list(read_genre(link).shown) == ["Jazz", "Blues", "Bebop"] == list(read_genre(path).shown)
    assert other_tags(link) == others
    np.testing.assert_array_equal(decoded(link), samples)
    if fmt.startswith("mp3"):
        assert audio_payload(link) == payload  # the audio frames byte for byte

    assert main(["write-tags", "--undo", f"{table}.undo.jsonl"]) == 0
    assert "restored" in capsys.readouterr().out
    assert path.stat().st_ino == inode and path.stat().st_nlink == 2
    assert list(read_genre(link).shown) == ["Bebop"]


def test_dry_run_shows_existing_and_proposed_in_table_and_json(tmp_path, capsys):
    path = make_file(tmp_path, "ogg", None)
    write_genre(path, with_genres(read_genre(path), EXISTING))
    table = tmp_path / "genres.csv"
    table_for([path]).to_csv(table, index=False)
    untouched = path.read_bytes()
    args = ["write-tags", str(table), "--min-probability", "0.5", "--mode", "append", "--max-genres", "2"]
    assert main([*args, "--secondary-min-probability", "0.2"]) == 0
    text = capsys.readouterr().out
    assert "existing → proposed" in text and "Bebop; Jazz → Bebop; Jazz; Blues" in text
    assert main([*args, "--secondary-min-probability", "0.2", "--format", "json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["files"][0]["current"] == EXISTING and report["files"][0]["proposed"] == ["Bebop", "Jazz", "Blues"]
    assert path.read_bytes() == untouched


def test_max_genres_without_a_measured_secondary_rule_says_so(tmp_path, capsys):
    path = make_file(tmp_path, "flac", None)
    table = tmp_path / "genres.csv"
    table_for([path]).to_csv(table, index=False)
    assert main(["write-tags", str(table), "--min-probability", "0.5", "--max-genres", "2"]) == 2
    err = capsys.readouterr().err
    assert "no measured rule for secondary genres" in err and "--secondary-min-probability" in err


def test_the_secondary_threshold_is_chosen_on_valid_from_the_second_genres_of_written_songs():
    rng = np.random.default_rng(0)
    n = 400
    # Songs torn between two genres: the second is the labelled one whenever p2 is high.
    probs = np.full((n, 3), 0.05)
    p2 = rng.uniform(0.0, 0.4, n)
    probs[:, 0], probs[:, 1] = 0.9 - p2, p2
    y = np.where(p2 > 0.3, 1, 0)
    confidence, right = secondary_candidates(probs, y, primary_cut=0.5)
    assert len(confidence) == 2 * n and right[:n].sum() == (p2 > 0.3).sum()
    families = np.array(["x"] * n)
    report = secondary_threshold((probs, y, families), (probs, y, families), primary_cut=0.5)
    assert report["min_probability"] is not None and 0.1 < report["min_probability"] <= 0.31
    assert report["valid"]["chosen"]["precision"] >= 0.5


def test_a_given_first_genre_threshold_keeps_the_models_measured_secondary_one(tmp_path):
    from genre_core.models.checkpoint import load_checkpoint, save_checkpoint
    from genre_core.tagging import model_id
    from genre_core.tags.write_thresholds import thresholds_for

    shipped = load_checkpoint("crnn")
    calibration = {
        **shipped.calibration,
        "tag_threshold": {
            **shipped.calibration["tag_threshold"],
            "secondary": {"target_precision": 0.5, "min_probability": 0.2},
        },
    }
    path = save_checkpoint(tmp_path / "m.pt", shipped.model, shipped.config, {}, {}, calibration, export=False)
    table = pd.DataFrame([{"model_id": model_id(path)}])
    measured = thresholds_for(table, str(path), None, max_genres=2)[model_id(path)]
    given = thresholds_for(table, str(path), 0.5, max_genres=2)[model_id(path)]
    assert measured.secondary_min_probability == given.secondary_min_probability == 0.2
    assert given.min_probability == 0.5 and given.source == "given"
