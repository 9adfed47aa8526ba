"""Benchmark: `streamlit run app.py` to the first rendered Dashboard in Chromium, per file-watcher setting.

Not a test (pytest does not collect it): it prints figures. Run on a quiet machine:

    .venv/bin/python tests/bench_first_page.py --runs 3
    .venv/bin/python tests/bench_first_page.py --runs 5 --serve --before b3a140d  # full vs serve vs before

Each run starts a fresh server (the project's own .streamlit/config.toml, with the
watcher overridden per variant), opens `/` in an already running Chromium as soon as
the health endpoint answers, and waits for the Dashboard's heading and its model cards.
Variants alternate run by run, so machine noise hits them alike. It also times, in
fresh processes, what the first page's path costs: importing torch, importing
genre_core and Streamlit, and loading the default model.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]  # run as a script: the suite's helpers and genre_core

from test_browser import CHROMIUM, FLAGS, free_port  # noqa: E402

VARIANTS = {
    "project config (poll)": [],
    "Streamlit default watcher (auto)": ["--server.fileWatcherType", "auto"],
    "no watcher (none)": ["--server.fileWatcherType", "none"],
}
SERVE_VENV = ROOT / ".venv-serve" / "bin" / "python"
STAGES = {
    "import torch": "import torch",
    "import streamlit": "import streamlit",
    "import genre_core.classifier": "import genre_core.classifier",
    "load the default model": "import genre_core.classifier as c; import time; t=time.perf_counter(); "
    "c.GenreClassifier.load(device='cpu'); print(time.perf_counter()-t)",
}


def first_page(
    browser, extra: list[str], log: Path, python: str = sys.executable, cwd: Path = ROOT
) -> dict[str, float]:
    port = free_port()
    started = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [python, "-m", "streamlit", "run", "app.py", "--server.port", str(port), *extra],
            cwd=cwd,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        while True:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).status == 200:
                    break
            except OSError:
                time.sleep(0.05)
            if time.perf_counter() - started > 120:
                raise RuntimeError(f"server did not start: {log.read_text()[-2000:]}")
        healthy = time.perf_counter()
        page = browser.new_page()
        page.goto(url)
        page.locator("h1").filter(has_text="Music genre classifier").wait_for(timeout=120_000)
        page.get_by_text("Device", exact=True).first.wait_for(timeout=120_000)
        rendered = time.perf_counter()
        page.close()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
    text = log.read_text()
    return {
        "server_up_s": healthy - started,
        "first_render_s": rendered - healthy,
        "total_s": rendered - started,
        "inotify_overflows": text.count("Inotify queue overflowed"),
    }


def stage_seconds(code: str, python: str = sys.executable) -> float:
    started = time.perf_counter()
    out = subprocess.run([python, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    return float(out) if out.strip() else time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", default="bench_first_page.json")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="compare the full install (this interpreter) with the torch-free serve install (.venv-serve), "
        "both with the project config, instead of the file-watcher settings",
    )
    parser.add_argument("--before", default=None, help="with --serve: also the code at this git ref (full install)")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    pythons = {name: sys.executable for name in VARIANTS}
    variants = VARIANTS
    if args.serve:
        variants = {"full install (requirements.txt)": [], "serve install (requirements-serve.txt)": []}
        pythons = dict(zip(variants, [sys.executable, str(SERVE_VENV)], strict=True))
    folders = dict.fromkeys(variants, ROOT)
    if args.serve and args.before:
        name = f"before ({args.before}, full install)"
        variants, pythons[name] = {**variants, name: []}, sys.executable
        folders[name] = ROOT / ".cache" / f"before-{args.before}"
        subprocess.run(["git", "worktree", "add", "--detach", str(folders[name]), args.before], cwd=ROOT, check=True)
    results: dict[str, list[dict[str, float]]] = {name: [] for name in variants}
    logs = ROOT / ".cache" / "bench_first_page"
    logs.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for run in range(args.runs):
            for i, (name, extra) in enumerate(variants.items()):
                results[name].append(first_page(browser, extra, logs / f"{i}-{run}.log", pythons[name], folders[name]))
        browser.close()
    for folder in set(folders.values()) - {ROOT}:
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, check=True)
    stages = {}
    installs = {"full install": sys.executable} | ({"serve install": str(SERVE_VENV)} if args.serve else {})
    for label, python in installs.items():
        for name, code in STAGES.items():
            if name == "import torch" and python == str(SERVE_VENV):
                continue  # the serve install has none
            stages[f"{label}: {name}"] = statistics.median(stage_seconds(code, python) for _ in range(args.runs))
    print(f"streamlit run -> first rendered Dashboard, median of {args.runs} (min-max), seconds")
    print("| variant | server up | first render | total | inotify overflow warnings |")
    print("|---|---|---|---|---|")
    for name, rows in results.items():
        cells = []
        for key in ("server_up_s", "first_render_s", "total_s", "inotify_overflows"):
            values = [r[key] for r in rows]
            cells.append(f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})")
        print(f"| {name} | " + " | ".join(cells) + " |")
    print("\nWhere the first page's time goes (fresh processes, median):")
    for name, seconds in stages.items():
        print(f"  {name}: {seconds:.2f} s")
    Path(args.out).write_text(json.dumps({"runs": results, "stages_s": stages}, indent=2))


if __name__ == "__main__":
    main()
