"""Benchmark: the Library page on a 10,000-song table, in Chromium on a fresh server. Prints figures.

Not a test (pytest does not collect it). Run on a quiet machine:

    .venv/bin/python tests/bench_library_page.py --songs 10000 --runs 3

The table is the committed clips tagged by the default model, its rows repeated with a little noise on
each embedding up to `--songs` (then the t-SNE map is made as `tag` makes it, and its time printed).
Each run starts `streamlit run app.py`, opens `/library` as the first page of that server, and times
until the map and the results table are drawn; then the time for another song's search to redraw.
Beside it, in the same run, the Dashboard's first page on the same server kind: the baseline.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from test_browser import CHROMIUM, FLAGS, start_server  # noqa: E402

from genre_core.cli import main  # noqa: E402
from genre_core.library_table import with_map  # noqa: E402
from genre_core.tagging import read_table, write_table  # noqa: E402


def big_table(folder: Path, songs: int) -> Path:
    music = folder / "music"
    music.mkdir()
    for clip in (ROOT / "tests" / "data").glob("*.ogg"):
        shutil.copy(clip, music / clip.name)
    table = folder / "library.parquet"
    assert main(["tag", str(music), "--out", str(table), "--workers", "1", "--quiet"]) == 0
    frame = read_table(table)
    reps = int(np.ceil(songs / len(frame)))
    big = frame.loc[np.tile(frame.index, reps)[:songs]].reset_index(drop=True)
    rng = np.random.default_rng(0)
    vectors = np.stack([np.asarray(v, dtype=np.float32) for v in big["embedding"]])
    vectors += rng.normal(scale=0.05, size=vectors.shape).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    big["embedding"] = list(vectors.astype(np.float16))
    big["path"] = [f"{p}#{i}" for i, p in enumerate(big["path"])]
    write_table(big.drop(columns=[c for c in ("map_x", "map_y", "map_method") if c in big]), table)
    start = time.perf_counter()
    write_table(with_map(read_table(table)), table)
    print(f"map for {songs} songs (as `tag` makes it): {time.perf_counter() - start:.1f} s")
    return table


def first_visit(url_path: str, ready: str, folder: Path) -> tuple[float, float | None]:
    """Seconds from the health endpoint answering to `ready` visible; then another pick's redraw (Library)."""
    from playwright.sync_api import expect, sync_playwright

    proc, url = start_server(folder)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            start = time.perf_counter()
            page.goto(f"{url}/{url_path}")
            expect(page.get_by_text(ready).first).to_be_visible(timeout=300_000)
            opened = time.perf_counter() - start
            query = None
            if url_path == "library":
                expect(page.locator("[data-testid=stDataFrame]")).to_be_visible(timeout=300_000)
                opened = time.perf_counter() - start
                box = page.locator("[data-testid=stSelectbox]").last
                box.click()
                start = time.perf_counter()
                page.keyboard.press("ArrowDown")
                page.keyboard.press("Enter")
                page.wait_for_function(
                    "() => !document.querySelector('[data-testid=stStatusWidgetRunningIcon], [data-stale=true]')"
                )
                query = time.perf_counter() - start
            browser.close()
        return opened, query
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def main_() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--songs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ["GENRE_CORE_LIBRARY"] = str(big_table(folder, args.songs))
        library, dashboard, queries = [], [], []
        for _ in range(args.runs):
            opened, query = first_visit("library", "Most like ", folder)
            library.append(opened)
            queries.append(query)
            dashboard.append(first_visit("", "Music genre classifier", folder)[0])
        med = statistics.median
        print(f"Library page, first visit, {args.songs} songs: median {med(library):.2f} s  {library}")
        print(f"Dashboard, first visit (baseline, same run):   median {med(dashboard):.2f} s  {dashboard}")
        print(f"ratio library / dashboard: {med(library) / med(dashboard):.2f}")
        print(f"another song picked, until redrawn: median {med(queries):.2f} s  {queries}")


if __name__ == "__main__":
    main_()
