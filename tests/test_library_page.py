"""The Library page (issue 36): a tagged table as a map and the songs most like one, in AppTest and in Chromium."""

from __future__ import annotations

import base64
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import CLIPS
from genre_core.table_io import read_table

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def page(tagged_library, monkeypatch) -> AppTest:
    table, _ = tagged_library
    monkeypatch.setenv("GENRE_CORE_LIBRARY", str(table))
    app = AppTest.from_file(APP, default_timeout=120).run()
    return app.switch_page("pages/library.py").run()


def map_points(app: AppTest) -> dict[str, int]:
    """Points per trace of the map (plotly sends numeric arrays base64-encoded: {"dtype", "bdata"})."""
    chart = next(c for c in app.get("plotly_chart") if "library_map" in c.proto.id)

    def count(values) -> int:
        if isinstance(values, dict):
            return len(np.frombuffer(base64.b64decode(values["bdata"]), dtype=values["dtype"]))
        return len(values)

    return {trace["name"]: count(trace["x"]) for trace in json.loads(chart.proto.spec)["data"]}


def test_the_page_maps_every_song_and_lists_the_nearest_of_the_one_picked(page, tagged_library):
    table, music = tagged_library
    assert not page.exception
    points = map_points(page)
    assert points["query"] == 1 and points["most similar"] == 10
    assert sum(n for name, n in points.items() if name not in ("query", "most similar")) == 13  # every song
    # A song of the library is starred on its own point of the map, not between its neighbours.
    query = next(t for t in json.loads(next(c for c in page.get("plotly_chart") if "library_map" in c.proto.id)
                                        .proto.spec)["data"] if t["name"] == "query")  # fmt: skip
    stored = read_table(table)
    on_point = np.isclose(stored["map_x"], query["x"][0]) & np.isclose(stored["map_y"], query["y"][0])
    assert on_point.sum() == 1
    results = page.dataframe[0].value
    assert len(results) == 10 and list(results["similarity"]) == sorted(results["similarity"], reverse=True)
    picked = page.selectbox(key=f"library_pick:{table}")
    first_song = picked.value
    assert picked.format_func(first_song) not in list(results["song"])  # the query itself is not listed
    page = picked.set_value(3).run()
    assert page.dataframe[0].value["song"].tolist() != results["song"].tolist()
    # The playlist holds every song where the library has fewer than 20: the label says how many it holds.
    assert {b.proto.label for b in page.get("download_button")} == {"Download a 13-song playlist (M3U8)"}
    assert any(f"circled points its {len(results)} nearest" in c.value for c in page.caption)


def test_an_uploaded_song_is_classified_and_finds_its_own_recording_first(page):
    page.file_uploader(key="library_song").upload("new.ogg", CLIPS["metal"].read_bytes(), "audio/ogg").run()
    assert not page.exception
    top = page.dataframe[0].value.iloc[0]
    assert top["file"] == "metal.ogg" and top["similarity"] > 0.99


def test_a_missing_table_and_a_table_without_embeddings_are_clear_messages(page, tagged_library, tmp_path):
    from genre_core.tagging import read_table, write_table

    page = page.text_input(key="library_path").set_value(str(tmp_path / "nope.parquet")).run()
    assert not page.exception and "no table at" in page.error[0].value
    old = tmp_path / "old.parquet"
    write_table(read_table(tagged_library[0]).drop(columns=["embedding"]), old)
    page = page.text_input(key="library_path").set_value(str(old)).run()
    assert not page.exception and "has no song embeddings" in page.error[0].value


@pytest.mark.browser
def test_the_library_page_on_a_fresh_server_in_chromium(tagged_library, tmp_path, monkeypatch):
    """The page's own URL as the first visit of a fresh server; a screenshot to look at."""
    from playwright.sync_api import expect, sync_playwright
    from test_browser import CHROMIUM, FLAGS, start_server
    from test_display import CHECKS, OUTPUT, full_page_screenshot

    table, _ = tagged_library
    monkeypatch.setenv("GENRE_CORE_LIBRARY", str(table))
    proc, url = start_server(tmp_path)
    OUTPUT.mkdir(exist_ok=True)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(f"{url}/library")
            expect(page.get_by_text(re.compile(r"^Most like "))).to_be_visible(timeout=90_000)
            expect(page.locator(".js-plotly-plot")).to_be_visible(timeout=30_000)
            time.sleep(3)
            problems = page.evaluate(CHECKS)
            full_page_screenshot(page, OUTPUT / "library.png")
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    assert not problems, problems
