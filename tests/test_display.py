"""What a user sees, checked in Chromium at 1280×900 in the dark and the light theme, on fresh servers.

Each page URL is the first visit of a fresh `streamlit run`; the Dashboard also with a song uploaded and
the saliency map shown. From the DOM: no table hides columns at this width, no table shows `None`, every
axis tick label sits inside its chart, every chart's background follows the theme (transparent, not a
white box), and each genre has one spelling. Full-page screenshots go to tests/output/ to be looked at.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from test_browser import CHROMIUM, FLAGS, ROOT, start_server

from conftest import CLIPS, DATA

OUTPUT = ROOT / "tests" / "output"
PAGES = ("", "how_it_works", "model", "about")

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
  if (/\\bhiphop\\b/i.test(document.body.innerText)) problems.push("'hiphop' shown: the display name is hip-hop");
  return problems;
}"""


def full_page_screenshot(page, path: Path) -> None:
    """The whole page: Streamlit scrolls inside its main block, so the viewport grows to its height first."""
    height = page.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], section.main, .main')]"
        ".map(e => e.scrollHeight), 900)"
    )
    page.set_viewport_size({"width": 1280, "height": min(int(height) + 100, 12000)})
    time.sleep(1.5)
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.mark.browser
@pytest.mark.parametrize("theme", ["dark", "light"])
def test_every_page_reads_cleanly_at_1280_in_both_themes(tmp_path, theme):
    from playwright.sync_api import expect, sync_playwright

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
                if path == "":
                    song = tmp_path / "song.ogg"  # a neutral name: the uploader shows it
                    song.write_bytes(CLIPS["hiphop"].read_bytes())
                    page.locator("input[type=file]").set_input_files(str(song))
                    expect(page.get_by_text("Mood ·")).to_be_visible(timeout=90_000)
                    page.get_by_text("Show the saliency map").click()
                    expect(page.get_by_text("Red: regions whose hiding")).to_be_visible(timeout=90_000)
                time.sleep(3)  # plotly lays out its ticks after the element appears
                found[path or "dashboard"] = page.evaluate(CHECKS)
                full_page_screenshot(page, OUTPUT / f"{theme}_{path or 'dashboard'}.png")
                if path == "":  # a batch with a file that cannot be read: its table must fit and show no None
                    broken = tmp_path / "broken.mp3"
                    broken.write_text("not audio")
                    page.locator("input[type=file]").set_input_files(
                        [str(song), str(DATA / "electronic.ogg"), str(broken)]
                    )
                    expect(page.get_by_text("Download CSV")).to_be_visible(timeout=120_000)
                    time.sleep(3)
                    found["dashboard, batch"] = page.evaluate(CHECKS)
                    full_page_screenshot(page, OUTPUT / f"{theme}_batch.png")
                page.close()
            finally:
                proc.terminate()
                proc.wait(timeout=20)
        browser.close()
    assert not any(found.values()), found
