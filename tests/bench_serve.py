"""Benchmark: serving without torch (issue 28), whole processes, paired against baselines in one run.

Not a test (pytest does not collect it): it prints figures and writes them as JSON. Run on a quiet machine:

    .venv/bin/python tests/bench_serve.py --runs 7 --serve-python .venv-serve/bin/python --before b3a140d

Every figure is a fresh process, timed from outside, the variants alternating run by run so machine
noise hits them alike; peak memory is the process's own maximum RSS (`wait4`):

- cold start: a fresh interpreter importing genre_core and classifying one 30-s song (the child also
  prints its own import-to-first-prediction time), for both shipped models, in the full install, the
  serve install (`--serve-python`) and the code before this change (`--before REF`, a git worktree);
- peak memory of a one-song `python -m genre_core predict` process;
- the whole-process CLI ratio: the reference pipeline as a process of its own (librosa load of the whole
  file, first 30 s, ten slices, librosa mel + power_to_db, the reference network on PyTorch) against
  `python -m genre_core predict` on the same file, on a 30-s and a 4-min 44.1 kHz stereo MP3;
- the size of each virtual environment.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COLD = (
    "import time; t = time.perf_counter(); from genre_core import GenreClassifier;"
    "GenreClassifier.load({model!r}, device='cpu').predict({song!r});"
    "import sys; print(time.perf_counter() - t, 'torch' in sys.modules)"
)
REFERENCE = (
    "import time; t = time.perf_counter(); from genre_core.bench import core as bench;"
    "bench.baseline_pipeline(bench.reference_classifier(), {song!r}); print(time.perf_counter() - t)"
)


def measured(command: list[str], cwd: Path) -> dict[str, float | str]:
    """`command` run under a wrapper that reports the child's own peak RSS from wait4."""
    wrapper = (
        "import os, sys, time, json; t = time.perf_counter(); pid = os.fork()\n"
        "if pid == 0:\n"
        "    fd = os.open(os.devnull, os.O_WRONLY); os.dup2(fd, 2)\n"
        "    os.execv(sys.argv[1], sys.argv[1:])\n"
        "_, status, usage = os.wait4(pid, 0)\n"
        "print(json.dumps({'wall_s': time.perf_counter() - t, 'rss_mb': usage.ru_maxrss / 1024, 'status': status}))"
    )
    done = subprocess.run([sys.executable, "-c", wrapper, *command], cwd=cwd, capture_output=True, text=True)
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    if result["status"] != 0:
        raise RuntimeError(f"{' '.join(command)} exited with {result['status']}")
    result["stdout"] = "\n".join(lines[:-1])
    return result


def alternate(variants: dict[str, tuple[list[str], Path]], runs: int) -> dict[str, list[dict]]:
    """Each variant once per round (one warm-up round first), the order rotating round by round."""
    names = list(variants)
    results: dict[str, list[dict]] = {name: [] for name in names}
    for round_ in range(runs + 1):
        order = names[round_ % len(names) :] + names[: round_ % len(names)]
        for name in order:
            command, cwd = variants[name]
            result = measured(command, cwd)
            if round_:  # round 0 warms the page cache
                results[name].append(result)
    return results


def summary(samples: list[dict], key: str) -> dict[str, float]:
    values = [float(s[key]) for s in samples]
    return {"median": round(statistics.median(values), 3), "min": round(min(values), 3), "max": round(max(values), 3)}


def in_process(samples: list[dict]) -> dict[str, float]:
    return summary([{"t": float(s["stdout"].split()[0])} for s in samples], "t")


def venv_mb(python: Path) -> int | None:
    prefix = python.parent.parent  # .venv/bin/python → .venv
    if not (prefix / "pyvenv.cfg").is_file():
        return None
    done = subprocess.run(["du", "-sm", str(prefix)], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[0])


def worktree(ref: str, folder: Path) -> Path:
    """The project as it was at `ref`, in a temporary git worktree (models and all)."""
    target = folder / f"before-{ref}"
    subprocess.run(["git", "worktree", "add", "--detach", str(target), ref], cwd=ROOT, check=True, capture_output=True)
    return target


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--serve-python", type=Path, default=ROOT / ".venv-serve" / "bin" / "python")
    parser.add_argument("--before", default=None, help="a git ref of the code before this change, for today's path")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_serve.json")
    args = parser.parse_args()

    from genre_core.bench import make_inputs

    full = Path(sys.executable)
    serve = args.serve_python if args.serve_python.is_file() else None
    report: dict = {"cpus": os.cpu_count(), "runs": args.runs, "python": {"full": str(full), "serve": str(serve)}}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inputs = make_inputs(folder)
        song30, song4min = str(inputs["30s_44k_stereo.mp3"]), str(inputs["4min_44k_stereo.mp3"])
        before = worktree(args.before, folder) if args.before else None
        try:
            for model in ("musicnn_crnn", "crnn"):
                code = COLD.format(model=model, song=song30)
                variants = {"full install": ([str(full), "-c", code], ROOT)}
                if serve:
                    variants["serve install"] = ([str(serve), "-c", code], ROOT)
                if before:
                    variants[f"before ({args.before})"] = ([str(full), "-c", code], before)
                cold = alternate(variants, args.runs)
                report[f"cold_start_{model}"] = {
                    name: {
                        "import_to_first_prediction_s": in_process(samples),
                        "process_wall_s": summary(samples, "wall_s"),
                        "torch_imported": samples[0]["stdout"].split()[1] == "True",
                    }
                    for name, samples in cold.items()
                }
                print(f"cold start, {model}: {json.dumps(report[f'cold_start_{model}'])}", flush=True)

                for label, song in (("30s_mp3", song30), ("4min_mp3", song4min)):
                    cli = [str(full), "-m", "genre_core", "predict", song, "--model", model, "--format", "json"]
                    reference = [str(full), "-c", REFERENCE.format(song=song)]
                    variants = {"reference": (reference, ROOT), "full install": (cli, ROOT)}
                    if serve:
                        variants["serve install"] = ([str(serve), *cli[1:]], ROOT)
                    if before:
                        variants[f"before ({args.before})"] = (cli, before)
                    timed = alternate(variants, args.runs)
                    ref = [s["wall_s"] for s in timed["reference"]]
                    row: dict = {}
                    for name, samples in timed.items():
                        row[name] = {"wall_s": summary(samples, "wall_s"), "peak_rss_mb": summary(samples, "rss_mb")}
                        if name != "reference":  # paired run by run: reference time / this time
                            ratios = [r / s["wall_s"] for r, s in zip(ref, samples, strict=True)]
                            row[name]["ratio_vs_reference"] = summary([{"r": r} for r in ratios], "r")
                    report[f"cli_{model}_{label}"] = row
                    print(f"CLI predict, {model}, {label}: {json.dumps(row)}", flush=True)
        finally:
            if before:
                subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT, capture_output=True)
    report["venv_mb"] = {"full": venv_mb(full), "serve": venv_mb(serve) if serve else None}
    print(f"venv size (du -sm): {report['venv_mb']}")
    args.out.write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
