"""One genre per album and the owner's genre names: grouping, consensus, fallbacks, names files, beets -a.

Real clips in real formats, tagged with album tags through mutagen; the shipped default model.
"""

from __future__ import annotations

import json
from pathlib import Path

import mutagen
import pandas as pd
import pytest

from conftest import make_file
from genre_core.cli import main
from genre_core.config import GENRES
from genre_core.errors import UsageError
from genre_core.tags.albums import album_key, consensus, read_album_tags
from genre_core.tags.filetags import read_genre
from genre_core.tags.genre_names import load_genre_names


def tagged(folder: Path, fmt: str, clip: str, name: str, album: str | None, artist: str, albumartist: str | None):
    """A real clip with the album tags a library file carries (None: the tag is absent)."""
    path = make_file(folder, fmt, None, name=name, clip=clip, title=name)
    audio = mutagen.File(path, easy=True)
    if album is None:
        audio.pop("album", None)
    else:
        audio["album"] = album
    audio["artist"] = artist
    if albumartist is not None:
        audio["albumartist"] = albumartist
    audio.save()
    return path


@pytest.fixture
def library(tmp_path: Path) -> dict[str, Path]:
    """Two albums whose tracks the model hears differently, a compilation, and two files that fall back."""
    music = tmp_path / "music"
    music.mkdir()
    return {
        "a1": tagged(music, "mp3-v2.4", "jazz", "a1", "Album A", "Band A", None),
        "a2": tagged(music, "flac", "metal", "a2", "Album A", "Band A", None),
        "a3": tagged(music, "m4a", "classical", "a3", "Album A", "Band A", None),
        "b1": tagged(music, "ogg", "reggae", "b1", "Album B", "Band B", None),
        "b2": tagged(music, "mp3-v2.3", "blues", "b2", "Album B", "Band B", None),
        # A compilation: different artists, one album artist.
        "c1": tagged(music, "flac", "pop", "c1", "Hits", "Singer One", "Various Artists"),
        "c2": tagged(music, "mp3-v2.4", "disco", "c2", "Hits", "Singer Two", "Various Artists"),
        "loose": tagged(music, "ogg", "rock", "loose", None, "Nobody", None),
        "single": tagged(music, "m4a", "country", "single", "One Track Album", "Band C", None),
    }


def tag_table(tmp_path: Path, music: Path, capsys) -> Path:
    table = tmp_path / "genres.csv"
    assert main(["tag", str(music), "--out", str(table), "--workers", "1", "--quiet"]) == 0
    capsys.readouterr()
    return table


def test_album_tags_are_read_from_mp3_flac_m4a_and_recorded_at_tag_time(tmp_path, library, capsys):
    assert read_album_tags(library["a1"])["album"] == "Album A"
    assert read_album_tags(library["a2"])["artist"] == "Band A"
    assert read_album_tags(library["a3"])["album"] == "Album A"
    assert read_album_tags(library["c1"])["albumartist"] == "Various Artists"
    assert read_album_tags(library["loose"])["album"] is None
    rows = pd.read_csv(tag_table(tmp_path, library["a1"].parent, capsys)).set_index("path")
    assert rows.loc[str(library["b2"]), "album"] == "Album B" and rows.loc[str(library["c2"]), "artist"] == "Singer Two"


def test_the_album_artist_wins_over_the_artist_and_falls_back_to_it():
    assert album_key({"album": "Hits", "albumartist": "Various Artists", "artist": "Singer One"}) == (
        "Hits",
        "Various Artists",
    )
    assert album_key({"album": "Hits", "albumartist": None, "artist": "Singer One"}) == ("Hits", "Singer One")
    assert album_key({"album": float("nan"), "artist": "x"}) is None


def test_consensus_is_the_mean_of_the_tracks_probabilities():
    rows = [
        {"path": "1", "album": "A", "artist": "x", "genre": "jazz", "probability": 0.6, "p_jazz": 0.6, "p_rock": 0.4},
        {"path": "2", "album": "A", "artist": "x", "genre": "rock", "probability": 0.9, "p_jazz": 0.1, "p_rock": 0.9},
    ]
    out, (album,), fallback = consensus(rows)
    assert album.genre == "rock" and album.probability == pytest.approx(0.65) and album.differing == {"1": "jazz"}
    assert [r["genre"] for r in out] == ["rock", "rock"] and not fallback


def test_per_album_gives_every_track_of_an_album_one_genre_and_undo_restores(tmp_path, library, capsys):
    table = tag_table(tmp_path, library["a1"].parent, capsys)
    own = pd.read_csv(table).set_index("path")["genre"]
    assert len({own[str(library[k])] for k in ("a1", "a2", "a3")}) > 1  # the tracks disagree on their own

    code = main(["write-tags", str(table), "--per", "album", "--min-probability", "0", "--format", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 0
    albums = {a["album"]: a for a in report["albums"]}
    assert set(albums) == {"Album A", "Album B", "Hits"} and albums["Album A"]["tracks"] == 3
    assert albums["Hits"]["artist"] == "Various Artists" and albums["Album A"]["differing"]
    assert set(report["fallback"]) == {str(library["loose"]), str(library["single"])}
    assert "no album tag" in report["fallback"][str(library["loose"])]
    assert "only classified track" in report["fallback"][str(library["single"])]

    code = main(["write-tags", str(table), "--per", "album", "--min-probability", "0"])
    text = capsys.readouterr().out
    assert "album 'Album A' by Band A: 3 tracks →" in text and "own genre differs:" in text
    assert "2 file(s) decided on their own:" in text

    names = write_names(tmp_path, "[names]\n" + "".join(f'{g} = "My {g}"\n' for g in GENRES))
    apply = ["write-tags", str(table), "--per", "album", "--genre-names", str(names), "--min-probability", "0"]
    assert main([*apply, "--apply"]) == 0
    capsys.readouterr()
    for name, members in albums.items():
        written = {read_genre(path).shown for path in members["paths"]}
        assert written == {(f"My {members['genre']}",)}, name  # one genre per album, in the owner's spelling
    assert main(["write-tags", "--undo", f"{table}.undo.jsonl"]) == 0
    assert all(read_genre(path).shown == () for path in library.values())


def write_names(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "names.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (None, "no genre-names file"),
        ("[names\nrock =", "not valid TOML"),
        ('[names]\ntechno = "Techno"', "unknown genre techno; the keys are blues"),
        ('[names]\nrock = ""', "rock has an empty name"),
        ('[names]\nrock = "Rock/Pop"', "contains '/'"),
        ('rock = "Rock"', "no [names] table"),
    ],
)
def test_a_wrong_names_file_is_a_one_line_usage_error(tmp_path, text, message, capsys):
    path = tmp_path / "missing.toml" if text is None else write_names(tmp_path, text)
    with pytest.raises(UsageError, match=message.replace("[", r"\[")):
        load_genre_names(path)
    table = tmp_path / "t.csv"
    pd.DataFrame([{"path": "x", "genre": "rock", "probability": 0.9, "model_id": "m"}]).to_csv(table, index=False)
    assert main(["write-tags", str(table), "--genre-names", str(path), "--min-probability", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message.split(";")[0] in err


def test_the_owners_names_are_written_with_modes_and_several_genres(tmp_path, capsys):
    music = tmp_path / "music"
    music.mkdir()
    path = tagged(music, "flac", "metal", "m", "Heavy", "Band", None)
    table = tag_table(tmp_path, music, capsys)
    genre = pd.read_csv(table)["genre"][0]
    names = write_names(tmp_path, f'[names]\n{genre} = ["My {genre}", "Also {genre}"]\n')
    base = ["write-tags", str(table), "--genre-names", str(names), "--min-probability", "0"]
    assert main([*base, "--apply"]) == 0
    assert read_genre(path).shown == (f"My {genre}", f"Also {genre}")  # a list writes several values
    capsys.readouterr()
    # Matching uses the mapped names, case-insensitively: the file already holds them.
    names.write_text(f'[names]\n{genre} = ["MY {genre.upper()}", "also {genre}"]\n')
    assert main([*base, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out)["files"][0]["action"] == "same"
    # Append and a second genre keep the owner's spelling for the first.
    assert main([*base, "--mode", "append", "--max-genres", "2", "--secondary-min-probability", "0", "--apply"]) == 0
    shown = read_genre(path).shown
    assert shown[:2] == (f"My {genre}", f"Also {genre}") and len(shown) == 3
