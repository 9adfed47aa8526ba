"""End to end in a real browser: `streamlit run app.py`, Chromium driven by Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import CLIPS, DATA

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(tmp_path: Path, root: Path = ROOT, extra: list[str] | None = None) -> tuple[subprocess.Popen, str]:
    """A fresh `streamlit run app.py` in `root`, as a user starts it (the project's own .streamlit/config.toml).

    `extra`: more `streamlit run` options, e.g. `["--theme.base", "light"]`.
    """
    port = free_port()
    log = (tmp_path / "streamlit.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            *(extra or []),
        ],
        cwd=root,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"streamlit did not start: {(tmp_path / 'streamlit.log').read_text()[-2000:]}")
    return proc, url


@pytest.fixture
def server(tmp_path):
    proc, url = start_server(tmp_path)
    yield url
    proc.terminate()
    proc.wait(timeout=20)


def inotify_watches(pid: int) -> int:
    """How many inotify watches a process holds (Linux: one `inotify wd:` line per watch in fdinfo)."""
    total = 0
    for info in Path(f"/proc/{pid}/fdinfo").iterdir():
        try:
            total += sum(line.startswith("inotify wd:") for line in info.read_text().splitlines())
        except OSError:  # an fd closed while we read
            continue
    return total


#: Every page URL, and the heading only that page draws.
PAGES = {
    "": "Music genre classifier",
    "how_it_works": "How it works",
    "model": "The models",
    "library": "Library",
    "about": "About",
}
NAVIGATION = ["Dashboard", "How it works", "Model", "Library", "About"]


@pytest.mark.browser
@pytest.mark.parametrize("path", list(PAGES))
def test_each_page_url_works_as_the_first_request_of_a_fresh_server(tmp_path, path):
    """A bookmark or shared link opened right after a (re)start: the page, the app's navigation, no error."""
    from playwright.sync_api import expect, sync_playwright

    proc, url = start_server(tmp_path)  # nothing has requested any page of this server yet
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            page.goto(f"{url}/{path}")
            heading = page.locator("h1").filter(has_text=PAGES[path])
            expect(heading).to_be_visible(timeout=90_000)
            nav = page.get_by_test_id("stSidebarNav")
            expect(nav).to_be_visible()
            links = nav.get_by_role("link")
            expect(links).to_have_count(len(NAVIGATION), timeout=30_000)
            assert [t.split("\n")[-1].strip() for t in links.all_inner_texts()] == NAVIGATION  # after the icon
            page.wait_for_timeout(1500)  # a late error would replace the page
            expect(page.get_by_test_id("stException")).to_have_count(0)
            expect(page.get_by_text("This app has encountered an error")).to_have_count(0)
            sidebar = page.get_by_test_id("stSidebar")
            expect(sidebar.get_by_text("Aggregation")).to_be_visible()  # the app's own sidebar
            # The first change a visitor makes sticks (a widget drawn in a legacy-mode run had another identity).
            sidebar.get_by_text("Median", exact=True).click()
            page.wait_for_timeout(2500)
            expect(sidebar.get_by_role("radio", name="Median")).to_be_checked()
            expect(page.get_by_test_id("stSidebar").get_by_text("Median: each genre's middle window")).to_be_visible()
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    log = (tmp_path / "streamlit.log").read_text()
    assert "Traceback" not in log and "KeyError" not in log, log[-3000:]


@pytest.mark.browser
def test_upload_in_chromium_shows_the_genre(server, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    assert Path(CHROMIUM).exists(), f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(server)
        expect(page.get_by_text("Choose an audio file to classify")).to_be_visible(timeout=90_000)
        page.locator("input[type=file]").set_input_files(str(CLIPS["classical"]))
        expect(page.get_by_text("Predicted genre:")).to_be_visible(timeout=90_000)
        expect(page.get_by_text("Per window")).to_be_visible()
        expect(page.locator(".js-plotly-plot").first).to_be_visible(timeout=30_000)
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000


@pytest.mark.browser
def test_a_song_of_none_of_the_ten_genres_gets_the_notice_on_a_fresh_server(server, tmp_path):
    """The first visit of a fresh server, a short electronic clip (4Q, AllMusic Electronic): the headline and the
    notice name the family it sounds like, above the closest of the ten."""
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1800})
        page.goto(server)
        expect(page.get_by_text("Choose an audio file to classify")).to_be_visible(timeout=90_000)
        page.locator("input[type=file]").set_input_files(str(DATA / "electronic.ogg"))
        expect(page.get_by_text("None of the ten genres: sounds like electronic")).to_be_visible(timeout=90_000)
        expect(page.get_by_text("does not sound like any of the ten genres")).to_be_visible()
        # The chart title, exactly: the notice and the saliency toggle say "closest of the ten" too.
        expect(page.get_by_text("Closest of the ten (the song is none of them)", exact=True)).to_be_visible(
            timeout=30_000
        )
        expect(page.get_by_text("Predicted genre:")).to_have_count(0)
        expect(page.get_by_text("Ambiguous:")).to_have_count(0)  # the notice and the badge never contradict
        shot = tmp_path / "other.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000
    (ROOT / "tests" / "output").mkdir(exist_ok=True)
    (ROOT / "tests" / "output" / "dashboard_other.png").write_bytes(shot.read_bytes())


@pytest.mark.browser
def test_an_edited_page_is_noticed_without_watching_the_virtual_environment(tmp_path):
    """The project's watcher setting: code edits still reach the app; .venv/ is never crawled."""
    import shutil

    from playwright.sync_api import expect, sync_playwright

    app = tmp_path / "app"
    app.mkdir()
    shutil.copy2(ROOT / "app.py", app / "app.py")
    for folder in ("pages", "genre_core", "models", ".streamlit"):
        shutil.copytree(ROOT / folder, app / folder, ignore=shutil.ignore_patterns("__pycache__"))
    fake_venv = app / ".venv" / "lib"
    for i in range(200):  # a folder full of folders, where a recursive watch would go
        (fake_venv / f"pkg{i}").mkdir(parents=True)
    proc, url = start_server(tmp_path, app)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
            page = browser.new_page()
            page.goto(f"{url}/about")
            expect(page.locator("h1").filter(has_text="About")).to_be_visible(timeout=90_000)
            page.wait_for_timeout(2000)  # a person edits seconds later, not within the first render
            # No inotify watch reaches into the (fake) virtual environment: a recursive watch of the
            # project folder would hold one per folder, 200 of them under .venv/ alone.
            assert inotify_watches(proc.pid) < 50
            about = app / "pages" / "about.py"
            about.write_text(about.read_text().replace('st.title("About")', 'st.title("About this app")'))
            # Streamlit offers to rerun once it sees the change; rerunning shows the edit.
            expect(page.get_by_text("File change.")).to_be_visible(timeout=30_000)
            page.get_by_role("button", name="Rerun", exact=True).click()
            expect(page.locator("h1").filter(has_text="About this app")).to_be_visible(timeout=30_000)
            browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    log = (tmp_path / "streamlit.log").read_text()
    assert "Inotify" not in log and "Traceback" not in log, log[-3000:]
