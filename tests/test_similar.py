"""Similar songs and playlists (issue 36): `similar`, `playlist` and their bad inputs, on a table that `tag`
builds here from the committed clips with the shipped model; the search and the playlist rule on synthetic rows."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import CLIPS
from genre_core.cli import main
from genre_core.similarity import LibraryIndex, playlist, similar
from genre_core.tagging import read_table, write_table


@pytest.fixture
def library(tagged_library) -> tuple[Path, Path]:
    return tagged_library


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_tag_stores_a_unit_embedding_and_the_title_for_every_song(library):
    table, music = library
    frame = read_table(table)
    vectors = np.stack([np.asarray(v, dtype=np.float32) for v in frame["embedding"]])
    assert len(frame) == 13 and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=2e-3)  # float16 in the file
    assert set(frame["title"].dropna()) == {"Blue in Green", "Rock Song"}


def test_the_map_is_named_by_the_method_that_placed_the_songs(library):
    """13 songs get t-SNE (`tag` stored it); fewer than TSNE_MIN_SONGS get PCA, and the name says so."""
    from genre_core.library_map import TSNE_MIN_SONGS, library_map, pca_projection

    frame = read_table(library[0])
    assert set(frame["map_method"]) == {"t-SNE"} and frame[["map_x", "map_y"]].notna().all().all()
    vectors = np.stack([np.asarray(v, dtype=np.float64) for v in frame["embedding"]])[: TSNE_MIN_SONGS - 1]
    coordinates, method = library_map(vectors)
    assert method == f"PCA (t-SNE needs at least {TSNE_MIN_SONGS} songs)"
    np.testing.assert_allclose(coordinates, pca_projection(vectors)[0])
    # A library of one song copied many times: t-SNE's PCA start would divide by zero spread (a segfault in
    # scikit-learn's Barnes-Hut code, which took `tag` down after its table was written).
    same = np.repeat(vectors[:1], 2 * TSNE_MIN_SONGS, axis=0)
    coordinates, method = library_map(same)
    assert method.startswith("PCA (all songs sound the same") and np.isfinite(coordinates).all()


def test_similar_lists_the_nearest_songs_without_the_query_and_applies_the_filters(library, capsys):
    table, music = library
    query = music / "jazz.flac"
    code, out, _ = run(capsys, "similar", str(query), "--library", str(table), "-k", "5", "--format", "json")
    assert code == 0
    [result] = json.loads(out)
    assert result["query"] == str(query) and len(result["similar"]) == 5
    found = result["similar"]
    assert str(query) not in [s["path"] for s in found]
    assert [s["similarity"] for s in found] == sorted((s["similarity"] for s in found), reverse=True)
    assert set(found[0]) == {"path", "similarity", "genre", "mood", "artist", "title"}
    # The same search by hand: the table's own vectors, cosine similarity.
    index = LibraryIndex.open(table)
    me = index.position(query)
    sims = index.vectors @ index.vectors[me]
    sims[me] = -np.inf
    expected = [str(index.rows["path"][i]) for i in np.argsort(-sims)[:5]]
    assert [s["path"] for s in found] == expected
    # Filters: a genre, and the query's own artist left out (the rock file shares the jazz file's artist).
    code, out, _ = run(capsys, "similar", str(query), "--library", str(table), "--genre", "rock", "--format", "json")
    assert {s["genre"] for s in json.loads(out)[0]["similar"]} == {"rock"}
    code, out, _ = run(capsys, "similar", str(query), "--library", str(table), "--not-same-artist", "--format", "json")
    assert "Ünïcode Artist" not in {s["artist"] for s in json.loads(out)[0]["similar"]}
    code, out, _ = run(capsys, "similar", str(query), "--library", str(table), "--format", "csv", "-k", "3")
    assert out.splitlines()[0] == "query,rank,path,similarity,genre,mood,artist,title" and len(out.splitlines()) == 4


def test_a_file_outside_the_table_is_classified_on_the_fly(library, tmp_path, capsys):
    table, music = library
    new = tmp_path / "new song.ogg"
    shutil.copy(CLIPS["metal"], new)  # the same audio as a song of the table, at another path
    code, out, _ = run(capsys, "similar", str(new), "--library", str(table), "-k", "1", "--format", "json")
    [best] = json.loads(out)[0]["similar"]
    assert code == 0 and Path(best["path"]).name == "metal.ogg" and best["similarity"] > 0.99
    code, text, _ = run(capsys, "similar", str(new), "--library", str(table), "-k", "2")
    assert code == 0 and text.splitlines()[0] == str(new) and "metal.ogg" in text


def test_playlist_writes_an_m3u8_that_starts_at_the_seed_and_whose_paths_resolve(library, tmp_path, capsys):
    table, music = library
    out = tmp_path / "lists" / "mix.m3u8"
    out.parent.mkdir()
    seed = music / "jazz.flac"
    code, text, _ = run(
        capsys, "playlist", "--library", str(table), "--seed", str(seed), "--length", "8", "--out", str(out)
    )
    assert code == 0 and "8 songs" in text
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U" and len(lines) == 1 + 2 * 8
    infos, paths = lines[1::2], lines[2::2]
    assert all(line.startswith("#EXTINF:") for line in infos)
    assert infos[0] == "#EXTINF:6,Ünïcode Artist - Blue in Green"  # duration, then artist - title
    resolved = [(out.parent / p).resolve() for p in paths]
    assert not any(Path(p).is_absolute() for p in paths) and all(p.is_file() for p in resolved)
    assert resolved[0] == seed.resolve() and len(set(resolved)) == 8  # the seed first, no song twice


def test_the_playlist_steps_close_to_the_last_song_and_the_seed_and_alternates_artists():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    rows = pd.DataFrame({"path": [f"/m/{i}.ogg" for i in range(40)], "artist": ["A", "B"] * 10 + ["A"] * 20})
    index = LibraryIndex(Path("t"), rows, vectors, "m")
    order = playlist(index, 0, 12)
    assert order[0] == 0 and len(set(order)) == 12
    artists = rows["artist"].to_numpy()[order]
    assert all(a != b for a, b in zip(artists[:-1], artists[1:], strict=True)) or (artists == "A").sum() > 10
    # Each step takes the best unplayed song by half its similarity to the one before and half to the seed.
    second = 0.5 * (vectors @ vectors[0]) + 0.5 * (vectors @ vectors[0])
    second[0] = -np.inf
    second[artists[0] == rows["artist"].to_numpy()] = -np.inf
    assert order[1] == int(np.argmax(second))
    assert [r["path"] for r in similar(index, vectors[3], 3, exclude=3)][0] != "/m/3.ogg"


# ---- bad input: one line, exit 2, nothing written ----------------------------------------------


def test_every_bad_input_is_one_line_and_exit_2_and_writes_nothing(library, tmp_path, capsys):
    table, music = library
    out = tmp_path / "mix.m3u8"
    not_audio = tmp_path / "song.mp3"
    not_audio.write_text("not audio at all")
    old = tmp_path / "old.parquet"
    write_table(read_table(table).drop(columns=["embedding"]), old)
    cases = {
        "cannot use": ["similar", str(not_audio), "--library", str(table)],
        "has no song embeddings": ["similar", str(music / "blues.ogg"), "--library", str(old)],
        "--model gives": ["similar", str(not_audio), "--library", str(table), "--model", "crnn"],
        "is not a song of": ["playlist", "--library", str(table), "--seed", str(not_audio), "--out", str(out)],
        "is longer than the 13 songs": [
            "playlist",
            "--library",
            str(table),
            "--seed",
            str(music / "blues.ogg"),
            "--length",
            "99",
            "--out",
            str(out),
        ],
        "no playlist": ["playlist", "--library", str(old), "--seed", str(music / "blues.ogg"), "--out", str(out)],
    }
    for expected, args in cases.items():
        code, stdout, err = run(capsys, *args)
        assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err, (args, err)
        if expected != "no playlist":
            assert expected in err, (expected, err)
        else:
            assert "rerun `python -m genre_core tag LIBRARY --out" in err
    assert not out.exists()


def test_tag_on_a_table_made_before_embeddings_classifies_only_the_rows_without_one(library, tmp_path, capsys):
    table, music = library
    old = tmp_path / "old.parquet"
    frame = read_table(table)
    frame.loc[frame.index[:3], "embedding"] = None
    write_table(frame, old)
    assert main(["tag", str(music), "--out", str(old), "--workers", "1", "--quiet"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["tagged"] == 3 and summary["skipped"] == 10
    assert read_table(old)["embedding"].map(lambda v: v is not None).all()
