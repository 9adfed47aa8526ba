"""What a user sees, checked in Chromium at 1280×900 in the dark and the light theme, on fresh servers.

Each page URL is the first visit of a fresh `streamlit run`; the Dashboard also with a song uploaded and
the saliency map, Genre over time and a batch shown. From the DOM: no table hides columns at this width, no
table shows `None`, every axis tick label sits inside its chart, every chart's background follows the theme
(transparent, not a white box), charts that share a time axis put each second at the same pixel, the window
slider names the window the spectrogram draws (also after the window strategy changes under it), and each
genre has one spelling. From each chart's pixels: no near-white block on the dark theme. Full-page
screenshots go to tests/output/ to be looked at.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from test_browser import CHROMIUM, FLAGS, ROOT, start_server

from conftest import CLIPS, DATA

OUTPUT = ROOT / "tests" / "output"
PAGES = ("", "how_it_works", "model", "library", "about")

#: Each broken rule on the page, as one line (an empty list is a clean page).
CHECKS = """() => {
  const luminance = css => {
    const [r, g, b, a] = css.match(/[\\d.]+/g).map(Number);
    return a === 0 ? luminance(getComputedStyle(document.querySelector('[data-testid=stApp]')).backgroundColor)
      : (0.2126 * r + 0.7152 * g + 0.0722 * b) / 255;
  };
  const problems = [];
  document.querySelectorAll('[data-testid=stDataFrame]').forEach((frame, i) => {
    const scroller = frame.querySelector('.dvn-scroller');
    if (scroller && scroller.scrollWidth > scroller.clientWidth + 1)
      problems.push(`table ${i + 1} hides columns: ${scroller.scrollWidth} px in ${scroller.clientWidth} px`);
    frame.querySelectorAll('[role=gridcell], td').forEach(cell => {
      if (cell.innerText.trim() === 'None') problems.push(`table ${i + 1} shows None`);
    });
  });
  document.querySelectorAll('.js-plotly-plot').forEach((plot, i) => {
    const box = plot.getBoundingClientRect();
    plot.querySelectorAll('.xtick text, .ytick text').forEach(tick => {
      const t = tick.getBoundingClientRect();
      const outside = t.left < box.left - 1 || t.right > box.right + 1;
      if (t.width && (outside || t.top < box.top - 1 || t.bottom > box.bottom + 1))
        problems.push(`chart ${i + 1}: tick label '${tick.textContent}' is outside the chart`);
    });
    const paper = getComputedStyle(plot.querySelector('svg.main-svg')).backgroundColor;
    const page = getComputedStyle(document.querySelector('[data-testid=stApp]')).backgroundColor;
    if (Math.abs(luminance(paper) - luminance(page)) > 0.15)
      problems.push(`chart ${i + 1}: a ${paper} box on a ${page} page: it does not follow the theme`);
  });
  // Charts over the same stretch of time (the spectrogram and the saliency map) share their plot area.
  const timeAxes = {};
  document.querySelectorAll('.js-plotly-plot').forEach((plot, i) => {
    const L = plot._fullLayout;
    if (!L || !L.xaxis || !/\\(s\\)/.test((L.xaxis.title && L.xaxis.title.text) || '')) return;
    const span = L.xaxis.range.map(v => Number(v).toFixed(2)).join('–');
    (timeAxes[span] ||= []).push({i, left: plot.getBoundingClientRect().left + L._size.l, width: L._size.w});
  });
  Object.entries(timeAxes).forEach(([span, plots]) => plots.slice(1).forEach(p => {
    if (Math.abs(p.left - plots[0].left) > 1 || Math.abs(p.width - plots[0].width) > 1)
      problems.push(`charts ${plots[0].i + 1} and ${p.i + 1} show ${span} s at different places: plot areas `
        + `${plots[0].left.toFixed(0)}+${plots[0].width.toFixed(0)} px and `
        + `${p.left.toFixed(0)}+${p.width.toFixed(0)} px`);
  }));
  if (/\\bhiphop\\b/i.test(document.body.innerText)) problems.push("'hiphop' shown: the display name is hip-hop");
  return problems;
}"""


#: The window slider's window against the one each spectrogram-shaped chart draws (an empty list: in step).
IN_STEP = """() => {
  const thumb = document.querySelector('[data-testid=stMain] [data-testid=stSliderThumbValue]');
  const shown = thumb && thumb.innerText.match(/([\\d.]+)–([\\d.]+) s/);
  if (!shown) return ['no window slider with a time span'];
  const [start, end] = [Number(shown[1]), Number(shown[2])];
  const problems = [];
  document.querySelectorAll('.js-plotly-plot').forEach((plot, i) => {
    const L = plot._fullLayout;
    if (!L || !/mel band/.test((L.yaxis.title && L.yaxis.title.text) || '')) return;
    const [x0, x1] = L.xaxis.range;
    if (Math.abs(x0 - start) > 0.1 || Math.abs(x1 - end) > 0.1)
      problems.push(`the slider says ${thumb.innerText}, chart ${i + 1} draws ${x0.toFixed(1)}–${x1.toFixed(1)} s`);
  });
  return problems;
}"""


def near_white_charts(screenshot: Path, boxes: list[dict]) -> list[str]:
    """Charts with a near-white block (every channel >= 220 on over 8 % of the chart) on the dark theme.

    From pixels, not the DOM: a heatmap draws its cells as one image. Light text and hairlines stay far below 8 %.
    """
    import numpy as np
    from PIL import Image

    pixels = np.asarray(Image.open(screenshot).convert("RGB"))
    problems = []
    for box in boxes:
        chart = pixels[int(box["top"]) : int(box["bottom"]), int(box["left"]) : int(box["right"])]
        share = float((chart.min(axis=2) >= 220).mean()) if chart.size else 0.0
        if share > 0.08:
            problems.append(f"chart {box['i'] + 1}: {share:.0%} near-white on the dark theme")
    return problems


def settle(page, timeout_s: float = 90) -> None:
    """Wait until the script has finished its run: no running-man icon, no spinner, no stale (greyed) element."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=stStatusWidgetRunningIcon], [data-testid=stSpinner],"
        " [data-stale=true]')",
        timeout=timeout_s * 1000,
    )
    time.sleep(3)  # plotly lays out its ticks after the element appears


def in_step(page, timeout_s: float = 60) -> list[str]:
    """IN_STEP once the run the slider started has drawn; its problems if it never agrees."""
    deadline = time.time() + timeout_s
    while (problems := page.evaluate(IN_STEP)) and time.time() < deadline:
        time.sleep(1)
    return problems


def medley(path: Path) -> Path:
    """48 s of real music (eight 6-s clips in a row): long enough that the two window strategies differ."""
    import numpy as np
    import soundfile as sf

    parts = [sf.read(CLIPS[g], dtype="float32")[0] for g in ("hiphop", "rock", "jazz", "reggae") * 2]
    sf.write(path, np.concatenate(parts), 22050)
    return path


def full_page_screenshot(page, path: Path) -> list[dict]:
    """The whole page, and where each visible chart sits on it.

    Streamlit scrolls inside its main block, so the viewport grows to its height first; the charts' boxes are
    measured in that viewport, so they are the screenshot's own pixel coordinates.
    """
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], section.main, .main')]"
        ".map(e => e.scrollHeight), 900)"
    )
    page.set_viewport_size({"width": 1280, "height": min(int(height) + 100, 12000)})
    time.sleep(1.5)
    page.screenshot(path=str(path), full_page=True)
    boxes = page.evaluate(
        "() => [...document.querySelectorAll('.js-plotly-plot')].map((p, i) => {"
        " const b = p.getBoundingClientRect(); return {i, left: b.left, right: b.right, top: b.top, bottom: b.bottom};"
        "}).filter(b => b.right > b.left && b.bottom > b.top)"
    )
    page.set_viewport_size({"width": 1280, "height": 900})
    return boxes


@pytest.mark.browser
@pytest.mark.parametrize("theme", ["dark", "light"])
def test_every_page_reads_cleanly_at_1280_in_both_themes(tmp_path, theme, tagged_library, monkeypatch):
    from playwright.sync_api import expect, sync_playwright

    monkeypatch.setenv("GENRE_CORE_LIBRARY", str(tagged_library[0]))  # the Library page opens a real table

    OUTPUT.mkdir(exist_ok=True)
    found: dict[str, list[str]] = {}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for path in PAGES:
            proc, url = start_server(tmp_path, extra=["--theme.base", theme])
            try:
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(f"{url}/{path}")
                expect(page.locator("h1").first).to_be_visible(timeout=90_000)
                if path == "library":
                    expect(page.get_by_text(re.compile(r"^Most like "))).to_be_visible(timeout=90_000)
                if path == "":
                    song = medley(tmp_path / "song.wav")  # a neutral name: the uploader shows it
                    page.locator("input[type=file]").set_input_files(str(song))
                    expect(page.get_by_text("Mood ·")).to_be_visible(timeout=90_000)
                    page.locator("[data-testid=stSidebar]").get_by_text("Genre over time").click()
                    expect(page.get_by_text("each classified on its own")).to_be_visible(timeout=90_000)
                    page.get_by_text("Show the saliency map").click()
                    expect(page.get_by_text("Red: regions whose hiding")).to_be_visible(timeout=90_000)
                    thumb = page.locator("[data-testid=stMain] input[type=range][aria-label=Window]")
                    thumb.focus()
                    for _ in range(4):
                        thumb.press("ArrowRight")
                    value = page.locator("[data-testid=stMain] [data-testid=stSliderThumbValue]")
                    expect(value).to_have_text(re.compile(r"^5: "), timeout=30_000)
                    found["window 5, in step"] = in_step(page)
                settle(page)
                found[path or "dashboard"] = page.evaluate(CHECKS)
                shot = OUTPUT / f"{theme}_{path or 'dashboard'}.png"
                boxes = full_page_screenshot(page, shot)
                if theme == "dark":
                    found[f"{path or 'dashboard'}, pixels"] = near_white_charts(shot, boxes)
                if path == "":  # the window strategy changes under the slider: both restart at window 1
                    page.locator("[data-testid=stSidebar]").get_by_text("First 30 seconds").click()
                    expect(page.get_by_text("first 30 seconds ·")).to_be_visible(timeout=90_000)
                    settle(page)
                    found["first 30 seconds, in step"] = in_step(page)
                if path == "":  # a batch with a file that cannot be read: its table must fit and show no None
                    broken = tmp_path / "broken.mp3"
                    broken.write_text("not audio")
                    page.locator("input[type=file]").set_input_files(
                        [str(song), str(DATA / "electronic.ogg"), str(broken)]
                    )
                    expect(page.get_by_text("Download CSV")).to_be_visible(timeout=120_000)
                    settle(page)
                    found["dashboard, batch"] = page.evaluate(CHECKS)
                    full_page_screenshot(page, OUTPUT / f"{theme}_batch.png")
                page.close()
            finally:
                proc.terminate()
                proc.wait(timeout=20)
        browser.close()
    assert not any(found.values()), found
