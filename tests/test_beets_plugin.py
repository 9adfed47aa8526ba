"""The beets plugin on a real temporary beets library: `beet genre-classify` and classify-on-import.

beets runs as the `beet` command would (`python -m beets`) in a subprocess, with
its config, database and music in a temp dir; the plugin is found through
`pluginpath` (as after `pip install -e .`, which the README describes).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from beets.library import Library
from mediafile import MediaFile

from conftest import make_file
from genre_core.tags.filetags import read_genre, tag_name
from genre_core.tags.write_tags import decide, held_back_as_other
from genre_core.tags.write_thresholds import measured_threshold

REPO = Path(__file__).resolve().parents[1]
#: title → (format, clip, genre already set)
ITEMS = {
    "Symphony": ("mp3-v2.4", "classical", None),
    "Blue Note": ("flac", "jazz", None),
    "Tagged Before": ("ogg", "classical", "Bebop"),
}


class Beets:
    """One temporary beets setup: config, library database, music folder."""

    def __init__(self, root: Path, auto: bool = False, options: str = "") -> None:
        self.root = root
        self.config = root / "config.yaml"
        self.config.write_text(
            f"directory: {root / 'library'}\n"
            f"library: {root / 'library.db'}\n"
            f"pluginpath: [{REPO / 'beetsplug'}]\n"
            "plugins: [genreclassify]\n"
            "import: {write: yes, copy: no, move: no, autotag: no, quiet: yes, log: null}\n"
            f"genreclassify: {{auto: {'yes' if auto else 'no'}{', ' + options if options else ''}}}\n"
        )

    def run(self, *args: str) -> subprocess.CompletedProcess:
        """`beet -c CONFIG ARGS` as a user runs it, with this setup's beets folder and the plugin importable."""
        env = {**os.environ, "BEETSDIR": str(self.root), "PYTHONPATH": str(REPO)}
        return subprocess.run(
            [sys.executable, "-m", "beets", "-c", str(self.config), *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )

    def fails(self, *args: str) -> str:
        """A run that must stop with a clear message: a failing exit, no traceback; its whole output."""
        done = self.run(*args)
        assert done.returncode != 0 and "Traceback" not in done.stderr, done.stdout + done.stderr
        return done.stdout + done.stderr

    def __call__(self, *args: str) -> str:
        done = self.run(*args)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Traceback" not in done.stderr and "error loading plugin" not in done.stderr, done.stderr
        return done.stdout

    def genres(self) -> dict[str, list[str]]:
        """title → the genres beets' database holds."""
        library = Library(str(self.root / "library.db"))
        try:
            return {item.title: list(item.genres) for item in library.items()}
        finally:
            library._close()


Files = TypeVar("Files")


def imported(tmp_path: Path, write: Callable[[Path], Files]) -> tuple[Beets, Files]:
    """A beets library that has imported (as-is, `-A`) what `write` puts into a fresh music folder."""
    music = tmp_path / "music"
    music.mkdir()
    files = write(music)
    beet = Beets(tmp_path)
    beet("import", "-A", str(music))
    return beet, files


@pytest.fixture
def beets(tmp_path: Path) -> tuple[Beets, dict[str, Path]]:
    return imported(
        tmp_path,
        lambda music: {
            title: make_file(music, fmt, genre, name=title.replace(" ", "_"), clip=clip, title=title)
            for title, (fmt, clip, genre) in ITEMS.items()
        },
    )


def expected(classifier, files: dict[str, Path], current: dict[str, list[str]], force: bool = False) -> dict:
    """title → (action, genre) by the shared rule, from the same model on the same files."""
    threshold = measured_threshold(None)
    plan = {}
    for title, path in files.items():
        prediction = classifier.predict(path)
        label, probability = prediction.top_k(1, "mean")[0]
        verdict = {"is_other": prediction.is_other, "other_probability": prediction.other_probability}
        action = decide(current[title], label, probability, threshold.min_probability, force)[0]
        if held_back_as_other(verdict, threshold):  # the open-set check comes first, as in write-tags
            action = "other"
        plan[title] = (action, tag_name(label), probability)
    return plan


def test_genre_classify_pretends_then_writes_through_beets_so_database_and_files_agree(beets, classifier):
    beet, files = beets
    imported = beet.genres()
    assert imported == {"Symphony": [], "Blue Note": [], "Tagged Before": ["Bebop"]}
    plan = expected(classifier, files, imported)
    assert plan["Tagged Before"][0] == "keep" and [a for a, *_ in plan.values()].count("write") >= 1
    before = {title: path.read_bytes() for title, path in files.items()}

    out = beet("genre-classify", "-p")
    assert "pretend" in out and beet.genres() == imported
    assert {title: path.read_bytes() for title, path in files.items()} == before
    for title, (action, name, _) in plan.items():
        assert any(line.startswith(action) and name in line and title in line for line in out.splitlines()), out

    beet("genre-classify")
    genres = beet.genres()
    for title, (action, name, _) in plan.items():
        want = [name] if action == "write" else imported[title]
        assert genres[title] == want, title
        assert list(read_genre(files[title]).shown) == want, title  # the file says what the database says

    # --force replaces the genre that was there before, for the matched item only.
    out = beet("genre-classify", "--force", "title:Tagged Before")
    action, name, _ = expected(classifier, files, genres, force=True)["Tagged Before"]
    assert "1 " in out.splitlines()[-1]
    want = [name] if action == "write" else ["Bebop"]
    assert beet.genres()["Tagged Before"] == want and list(read_genre(files["Tagged Before"]).shown) == want


def test_nothing_is_written_below_the_threshold(beets, classifier):
    beet, files = beets
    top = max(p for *_, p in expected(classifier, files, beet.genres()).values())
    out = beet("genre-classify", "--force", "--min-probability", f"{(top + 1) / 2:.6f}")
    actions = [line.split()[0] for line in out.splitlines()[:-1]]
    assert actions == ["below"] * len(ITEMS) and beet.genres()["Symphony"] == []
    assert read_genre(files["Symphony"]).shown == ()


def test_auto_classifies_items_as_they_are_imported(tmp_path, classifier):
    music = tmp_path / "music"
    music.mkdir()
    path = make_file(music, "flac", None, name="new", clip="classical", title="Imported")
    beet = Beets(tmp_path, auto=True)
    out = beet("import", "-A", str(music))
    action, name, _ = expected(classifier, {"Imported": path}, {"Imported": []})["Imported"]
    assert action == "write", out  # the classical clip is a confident one; otherwise this test shows nothing
    assert beet.genres() == {"Imported": [name]} and list(read_genre(path).shown) == [name]


@pytest.mark.parametrize("mode", ["append", "merge"])
def test_modes_write_several_genres_into_the_multi_valued_genres_field_and_the_files(beets, classifier, mode):
    beet, files = beets
    out = beet(
        "genre-classify",
        "--mode",
        mode,
        "--max-genres",
        "2",
        "--min-probability",
        "0",
        "--secondary-min-probability",
        "0",
    )
    assert f"mode {mode}" in out.splitlines()[-1]
    genres = beet.genres()
    for title, path in files.items():
        ours = [tag_name(g) for g, _ in classifier.predict(path).top_k(2, "mean")]
        existing = ["Bebop"] if title == "Tagged Before" else []
        want = existing + ours if mode == "append" else ours + existing
        assert genres[title] == want, title
        assert list(read_genre(path).shown) == want, title  # the file holds the same values, separately
        assert MediaFile(str(path)).genres == want, title
    assert "→" in out  # existing → proposed, per item


def test_max_genres_without_a_secondary_rule_is_a_clear_beets_error(beets):
    beet, _ = beets
    assert "no measured rule for secondary genres" in beet.fails("genre-classify", "--max-genres", "2")


def test_an_item_of_none_of_the_ten_genres_is_held_back_unless_included(tmp_path):
    beet, path = imported(tmp_path, lambda music: make_file(music, "mp3-v2.4", None, "Synth", "other", "Synth"))
    out = beet("genre-classify", "-p")
    (line,) = [x for x in out.splitlines() if "Synth" in x]
    assert line.startswith("other") and "none of the ten genres (p_other" in line, out
    beet("genre-classify", "--force")
    assert beet.genres() == {"Synth": []} and read_genre(path).shown == ()
    beet("genre-classify", "--include-other", "--min-probability", "0")
    (genres,) = beet.genres().values()
    assert len(genres) == 1 and list(read_genre(path).shown) == genres  # written, database and file agree


def test_an_item_held_back_as_other_music_gets_its_outside_family_unless_told_not_to(tmp_path):
    """Electronic music: beets sets (and writes) the family outside the ten; `--no-outside` and `outside: no` do not."""
    beet, path = imported(tmp_path, lambda music: make_file(music, "flac", None, "Synth", "electronic", "Synth"))
    out = beet("genre-classify", "--no-outside")
    (line,) = [x for x in out.splitlines() if "Synth" in x]
    assert line.startswith("other"), out
    assert beet.genres() == {"Synth": []} and read_genre(path).shown == ()
    out = beet("genre-classify", "-p")
    (line,) = [x for x in out.splitlines() if "Synth" in x]
    assert line.startswith("write") and "(outside the ten: electronic)" in line, out
    beet("genre-classify")
    assert beet.genres() == {"Synth": ["Electronic"]} and read_genre(path).shown == ("Electronic",)


def test_the_outside_family_takes_the_owners_name_and_the_outside_option_turns_it_off(tmp_path):
    beet, path = imported(tmp_path, lambda music: make_file(music, "mp3-v2.4", None, "Synth", "electronic", "Synth"))
    named = Beets(tmp_path, options="names: {electronic: Electronica}")
    named("genre-classify")
    assert named.genres() == {"Synth": ["Electronica"]} and read_genre(path).shown == ("Electronica",)
    off = Beets(tmp_path, options="outside: no")
    (line,) = [x for x in off("genre-classify", "-p", "--force").splitlines() if "Synth" in x]
    assert line.startswith("other"), line


def test_moods_set_an_attribute_and_the_files_mood_field_through_beets(tmp_path):
    from genre_core.tags.filetags import read_mood

    beet, path = imported(tmp_path, lambda music: make_file(music, "flac", None, "Calm", "classical", "Calm"))
    out = beet("genre-classify", "--moods", "--mood-min-probability", "0", "-p")
    assert "mood:write" in out and read_mood(path).shown == ()
    beet("genre-classify", "--moods", "--mood-min-probability", "0")
    (mood,) = read_mood(path).shown
    assert beet("ls", "-f", "$mood", "title:Calm").strip() == mood  # beets' attribute equals the file's field
    assert "mood:" not in beet("genre-classify")  # without --moods (config default: no) moods are left alone


def test_moods_with_the_fast_model_are_a_clear_beets_error(tmp_path):
    beet = Beets(tmp_path)
    assert "no mood head" in beet.fails("genre-classify", "--moods", "--model", "crnn")


def test_album_mode_gives_every_item_of_an_album_the_albums_genre_through_beets(tmp_path):
    from test_albums import tagged

    beet, paths = imported(
        tmp_path,
        lambda music: [
            tagged(music, "mp3-v2.4", clip, f"t{i}", "Album A", "Band A", None)
            for i, clip in enumerate(("jazz", "metal", "classical"))
        ],
    )
    out = beet("genre-classify", "-a", "-p", "--min-probability", "0")
    (line,) = [x for x in out.splitlines() if x.startswith("album ")]
    assert "Band A - Album A: 3 tracks →" in line and all(g == [] for g in beet.genres().values())  # -p: nothing set
    beet("genre-classify", "-a", "--min-probability", "0")
    genres = beet.genres()
    assert len({tuple(g) for g in genres.values()}) == 1 and next(iter(genres.values()))  # one genre, set
    assert {tuple(read_genre(p).shown) for p in paths} == {tuple(next(iter(genres.values())))}  # files agree
    library = Library(str(tmp_path / "library.db"))
    try:
        (album,) = list(library.albums())
        assert list(album.genres) == next(iter(genres.values()))
    finally:
        library._close()


def test_a_wrong_names_mapping_is_a_clear_beets_error(tmp_path):
    beet = Beets(tmp_path)
    beet.config.write_text(beet.config.read_text().replace("genreclassify: {", "genreclassify: {names: {techno: X}, "))
    assert "unknown genre techno" in beet.fails("genre-classify")


# ---- beets' database and the files agree after every command (issue 35) --------------------------


def database_and_files(root: Path) -> dict[str, tuple]:
    """title → (database genres, file genres, database mood, file mood), the files read back with mutagen."""
    from genre_core.tags.filetags import read_mood

    library = Library(str(root / "library.db"))
    try:
        return {
            item.title: (
                list(item.genres),
                list(read_genre(item.path.decode()).shown),
                item.get("mood"),
                "; ".join(read_mood(item.path.decode()).shown) or None,
            )
            for item in library.items()
        }
    finally:
        library._close()


def agree(state: dict[str, tuple]) -> bool:
    return all(
        db_genres == file_genres and db_mood == file_mood
        for db_genres, file_genres, db_mood, file_mood in state.values()
    )


def test_beets_database_equals_the_files_after_every_command(tmp_path):
    """A read-only file changes neither itself nor the database; moods already in files are read into beets."""
    from genre_core.tags.filetags import read_mood, with_mood, write_genre

    def write(music: Path) -> dict[str, Path]:
        files = {
            "Moody": make_file(music, "mp3-v2.3", None, name="moody", clip="classical", title="Moody"),
            "Locked": make_file(music, "flac", None, name="locked", clip="jazz", title="Locked"),
            "Plain": make_file(music, "ogg", None, name="plain", clip="metal", title="Plain"),
        }
        write_genre(files["Moody"], with_mood(read_mood(files["Moody"]), ("Melancholy",)))
        return files

    beet, files = imported(tmp_path, write)
    files["Locked"].chmod(0o444)
    locked = files["Locked"].read_bytes()
    options = ("--moods", "--mood-min-probability", "0", "--min-probability", "0")
    out = beet("genre-classify", "-p", *options)
    assert "-f/--force replaces it" in out and "--overwrite" not in out  # the mood it keeps: beets' own flag
    out = beet("genre-classify", *options)
    state = database_and_files(tmp_path)
    assert agree(state), state
    assert state["Moody"][2] == "Melancholy"  # kept in the file, and now in beets: `beet ls mood:Melancholy`
    assert beet("ls", "mood:Melancholy").strip().endswith("Moody")
    assert state["Locked"][:3] == ([], [], None) and files["Locked"].read_bytes() == locked
    assert "read-only" in out and state["Plain"][0] and state["Plain"][2]
    beet("genre-classify", "--force", *options)  # and once more, replacing: still in agreement
    assert agree(database_and_files(tmp_path))


def test_album_mode_after_a_per_track_run_still_sets_the_album_genre(tmp_path):
    from test_albums import tagged

    beet, paths = imported(
        tmp_path, lambda music: [tagged(music, "flac", "jazz", f"t{i}", "Album J", "Band J", None) for i in range(3)]
    )
    beet("genre-classify", "--min-probability", "0")  # per track: every track gets the same genre
    assert {tuple(g) for g in beet.genres().values()} == {("Jazz",)}
    out = beet("genre-classify", "-a", "--min-probability", "0")
    assert out.count("same") >= 3  # nothing to write to the tracks...
    library = Library(str(tmp_path / "library.db"))
    try:
        (album,) = list(library.albums())
        assert list(album.genres) == ["Jazz"]  # ...yet the album gets its genre: `beet ls -a genres:Jazz`
    finally:
        library._close()
    assert agree(database_and_files(tmp_path))


def test_genre_similar_lists_the_items_that_sound_most_like_the_query(beets):
    beet, files = beets
    assert "run `beet genre-classify` first" in beet.fails("genre-similar", "title:Symphony")
    beet("genre-classify", "-p")  # pretend: stores nothing, embeddings included
    assert "run `beet genre-classify` first" in beet.fails("genre-similar", "title:Symphony")
    beet("genre-classify")
    lines = beet("genre-similar", "title:Symphony", "-k", "2").splitlines()
    assert lines[0].endswith("Symphony") and len(lines) == 3
    similar = [line.strip() for line in lines[1:]]
    assert all(float(line.split()[0]) <= 1.0 for line in similar)
    assert not any(line.endswith("Symphony") for line in similar)  # never the query itself
    assert {line.rsplit(" - ", 1)[-1] for line in similar} == {"Blue Note", "Tagged Before"}
