"""`python -m genre_core bench`: the project pipeline against the reference one, in one run.

Baseline, as the best-known open CRNN-BiGRU Streamlit genre app documents its
pipeline: `librosa.load(path, sr=22050, mono=True)` of the whole file, keep the
first 30 s (pad if shorter), ten 3-s slices, `librosa.feature.melspectrogram`
+ `power_to_db` per slice, then that app's own network size (`REFERENCE_ARCH`:
3 conv blocks, one GRU layer of 128). Each shipped model runs the project's
pipeline on the same files in the same run; the ratio is reference time / model
time. Figures are medians and minima of warm runs; memory is the peak RSS growth
during one call, sampled every millisecond.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import librosa
import numpy as np
import soundfile as sf
import torch

from ..classifier import GenreClassifier
from ..config import SHARED_DATA
from ..features import librosa_reference
from .precision import reduced_precision_check
from .stages import model_profile, timbral_conv_variants

ROOT = Path(__file__).resolve().parents[2]
SHARED = SHARED_DATA


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class PeakRss:
    """Samples resident memory in a thread; `growth` is peak minus start."""

    def __enter__(self) -> PeakRss:
        self.start = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.001):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def growth_mb(self) -> float:
        return (self.peak - self.start) / 2**20


def baseline_pipeline(clf: GenreClassifier, path: str) -> dict[str, float]:
    cfg = clf.config.features
    t0 = time.perf_counter()
    y, _ = librosa.load(path, sr=cfg.sample_rate, mono=True)
    first = y[: cfg.n_windows * cfg.window_samples]
    first = np.pad(first, (0, max(0, cfg.n_windows * cfg.window_samples - first.size)))
    t1 = time.perf_counter()
    slices = first.reshape(cfg.n_windows, cfg.window_samples)
    mels = np.stack([librosa_reference(s, cfg) for s in slices])
    t2 = time.perf_counter()
    clf.predict_features(mels)
    t3 = time.perf_counter()
    return {"decode": t1 - t0, "features": t2 - t1, "model": t3 - t2, "total": t3 - t0}


def project_pipeline(clf: GenreClassifier, path: str, strategy: str) -> dict[str, float]:
    from ..audio import open_audio
    from ..windows import read_windows

    cfg = clf.config.features
    t0 = time.perf_counter()
    with open_audio(path, cfg.sample_rate) as reader:
        _, windows = read_windows(reader, clf.plan(reader.duration_s, strategy), cfg)
    t1 = time.perf_counter()
    features = clf.logmel(windows)
    t2 = time.perf_counter()
    clf.predict_features(features)
    t3 = time.perf_counter()
    return {"decode": t1 - t0, "features": t2 - t1, "model": t3 - t2, "total": t3 - t0}


def head_overhead(clf: GenreClassifier, path: str, runs: int) -> dict[str, float]:
    """A whole `predict` with the open-set verdict, the outside family and the mood against the same classifier
    without them, in ms.

    The heads read outputs the network already computed (a softmax and a few dot products, ~0.1 ms);
    this shows them against a whole song's time, the two classifiers interleaved.
    """
    import copy

    bare = copy.copy(clf)
    bare.open_set, bare.mood_head, bare.outside_head = None, None, None
    clf.predict(path), bare.predict(path)  # warm-up
    with_verdict, without = [], []
    pairs = ((clf, with_verdict), (bare, without))
    for run in range(runs):  # alternate which goes first: the first of a pair pays for a colder cache
        for target, times in pairs if run % 2 == 0 else pairs[::-1]:
            started = time.perf_counter()
            target.predict(path)
            times.append(1000 * (time.perf_counter() - started))
    a, b = statistics.median(with_verdict), statistics.median(without)
    # The heads alone, on one song's real outputs: what the whole-song ratio cannot resolve from noise.
    logits, tags = clf.logits_and_tags(clf.extract(path, "spread")[2])
    started = time.perf_counter()
    for _ in range(200):
        clf.open_set_verdict(logits, tags)
        if clf.mood_head is not None and tags is not None:
            clf.mood_head.mood(tags)
    heads = 1000 * (time.perf_counter() - started) / 200
    outside = None
    if clf.outside_head is not None and tags is not None:
        started = time.perf_counter()
        for _ in range(200):
            clf.outside_head.family_probabilities(tags)  # the whole of `outside` but the comparison with its cut
        outside = round(1000 * (time.perf_counter() - started) / 200, 3)
    return {
        "with_heads_ms": round(a, 1),
        "without_ms": round(b, 1),
        "ratio": round(a / b, 3),
        "heads_ms": round(heads, 3),
        "outside_ms": outside,
    }


def measure(fn: Callable[[], dict[str, float]], runs: int) -> dict[str, Any]:
    fn()  # warm-up: first-call allocations and library imports are not steady state
    samples = [fn() for _ in range(runs)]
    with PeakRss() as rss:
        fn()
    stats = {
        stage: {
            "median_ms": 1000 * statistics.median(s[stage] for s in samples),
            "min_ms": 1000 * min(s[stage] for s in samples),
        }
        for stage in samples[0]
    }
    return {"stages": stats, "peak_rss_growth_mb": round(rss.growth_mb, 1)}


def make_inputs(folder: Path) -> dict[str, Path]:
    """30-s WAV and MP3 from real music where ../shared exists, else synthesised."""
    music = _real_music(30.0)
    stereo44 = np.stack([librosa.resample(music, orig_sr=22050, target_sr=44100)] * 2, axis=1)
    inputs = {
        "30s_22k_mono.wav": folder / "a.wav",
        "30s_44k_stereo.mp3": folder / "b.mp3",
        "4min_44k_stereo.mp3": folder / "c.mp3",
        "60min_22k_mono.wav": folder / "d.wav",
    }
    sf.write(inputs["30s_22k_mono.wav"], music, 22050)
    sf.write(inputs["30s_44k_stereo.mp3"], stereo44, 44100, format="MP3")
    with sf.SoundFile(inputs["4min_44k_stereo.mp3"], "w", 44100, 2, format="MP3") as handle:
        for _ in range(8):
            handle.write(stereo44)
    with sf.SoundFile(inputs["60min_22k_mono.wav"], "w", 22050, 1, subtype="PCM_16") as handle:
        for _ in range(120):
            handle.write(music)
    return inputs


def _real_music(seconds: float) -> np.ndarray:
    manifest = SHARED / "manifest.csv"
    n = int(seconds * 22050)
    if manifest.is_file():
        import csv

        for row in csv.DictReader(manifest.open()):
            if row["quality"] == "original" and float(row["duration_s"]) >= seconds:
                y, _ = sf.read(SHARED / row["path"], dtype="float32")
                return y[:n]
    t = np.arange(n) / 22050
    return (0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 2 * t))).astype(np.float32)


def reference_classifier() -> GenreClassifier:
    """The reference app's network size at its 22050 Hz / 128-mel input (untrained: timing only)."""
    from ..config import GenreConfig, ModelConfig
    from ..models.checkpoint import Checkpoint
    from ..models.families import build_model
    from ..reference import REFERENCE_ARCH

    config = GenreConfig(model=ModelConfig(**REFERENCE_ARCH))
    torch.manual_seed(0)
    return GenreClassifier(Checkpoint(build_model(config).eval(), config), device="cpu")


def cold_start(path: Path, model: str | None) -> float:
    """Seconds from a fresh interpreter to the first prediction; `model` None runs the reference pipeline."""
    # The model's path imports only the library: bench itself pulls in torch and librosa.
    reference = f"from genre_core.bench import core; core.baseline_pipeline(core.reference_classifier(), {str(path)!r})"
    load = f"GenreClassifier.load({model!r}, device='cpu')"
    ours = f"from genre_core import GenreClassifier; {load}.predict({str(path)!r})"
    code = f"import time; t=time.perf_counter(); {reference if model is None else ours}; print(time.perf_counter()-t)"
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def cli_throughput(folder: Path, source: Path, count: int = 100, jobs: int = 1) -> float:
    """Songs/s of one CLI process over `count` copies of a 30-s song, start-up included."""
    songs = folder / "batch"
    if not songs.exists():
        songs.mkdir()
        for i in range(count):
            (songs / f"song{i:03d}.wav").write_bytes(source.read_bytes())
    command = [
        sys.executable,
        "-m",
        "genre_core",
        "predict",
        str(songs),
        "--format",
        "csv",
        "--quiet",
        "--device",
        "cpu",
        "--jobs",
        str(jobs),
    ]
    return count / timed(command)


def real_library(folder: Path, count: int, fallback: Path) -> Path:
    """`count` songs: real ≥ 25-s recordings from ../shared when present, else copies of one."""
    songs = folder / "library"
    songs.mkdir()
    manifest = SHARED / "manifest.csv"
    sources: list[Path] = []
    if manifest.is_file():
        import csv

        rows = [r for r in csv.DictReader(manifest.open()) if float(r["duration_s"]) >= 25]
        sources = [SHARED / r["path"] for r in rows[:count]]
    for i in range(count):
        source = sources[i] if i < len(sources) else fallback
        (songs / f"song{i:03d}{source.suffix}").write_bytes(source.read_bytes())
    return songs


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def tagging_bench(folder: Path, fallback: Path, count: int, workers: int) -> dict[str, Any]:
    """Songs/s of the single-process CLI, the local engine and Ray, each a fresh process."""
    songs = real_library(folder, count, fallback)
    python = [sys.executable, "-m", "genre_core"]
    single = timed([*python, "predict", str(songs), "--format", "csv", "--quiet", "--device", "cpu"])
    local = timed(
        [*python, "tag", str(songs), "--out", str(folder / "l.parquet"), "--workers", str(workers), "--quiet"]
    )
    ray_s = timed(
        [
            *python,
            "tag",
            str(songs),
            "--out",
            str(folder / "r.parquet"),
            "--engine",
            "ray",
            "--workers",
            str(workers),
            "--quiet",
        ]
    )
    rates = {"single_process_cli": count / single, "local_engine": count / local, "ray_engine": count / ray_s}
    return {
        "songs": count,
        "workers": workers,
        "songs_per_s": {k: round(v, 2) for k, v in rates.items()},
        "ratio_to_single": {k: round(v / rates["single_process_cli"], 2) for k, v in rates.items()},
    }


def run_bench(
    out: str | Path = "bench.json",
    runs: int = 5,
    tagging: int = 0,
    profile: bool = False,
    precision_check: bool = False,
    precision_only: bool = False,
) -> dict[str, Any]:
    """Time every shipped model against the reference pipeline; print each row, write the report to `out`.

    `tagging`: also time tagging that many songs (CLI, local engine, Ray); `profile`: the transfer
    model's stages; `precision_check`: OpenVINO bf16 against fp32 on the splits (`precision_only`: just that).
    """
    from ..models.registry import DEFAULT_MODEL, SHIPPED_MODELS

    if precision_only:  # the decision check alone: minutes, not the whole bench
        report = {"reduced_precision": reduced_precision_check(GenreClassifier.load(DEFAULT_MODEL, device="cpu"))}
        Path(out).write_text(json.dumps(report, indent=2))
        return report

    models = {
        name: GenreClassifier.load(name, device="cpu") for name in SHIPPED_MODELS if SHIPPED_MODELS[name].is_file()
    }
    # The default model on PyTorch too, in the same run: what the ONNX Runtime swap alone buys.
    torch_default = GenreClassifier.load(DEFAULT_MODEL, device="cpu", runtime="torch")
    reference = reference_classifier()
    report: dict[str, Any] = {
        "machine": {
            "cpu_cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "processor": platform.processor() or platform.machine(),
        },
        "runtime": {name: clf.runtime_name for name, clf in models.items()}
        | {f"{DEFAULT_MODEL}_torch": torch_default.runtime_name, "reference": reference.runtime_name},
        "runs": runs,
        "default_model": DEFAULT_MODEL,
        "inputs": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inputs = make_inputs(folder)
        for name, path in inputs.items():
            row: dict[str, Any] = {}
            if not name.startswith("60min"):  # the reference would decode an hour: skip, report the models only
                row["reference"] = measure(lambda p=path: baseline_pipeline(reference, str(p)), runs)
            for model, clf in models.items():
                for strategy in ("first30", "spread"):
                    row[f"{model}_{strategy}"] = measure(
                        lambda p=path, c=clf, s=strategy: project_pipeline(c, str(p), s), runs
                    )
                if model == DEFAULT_MODEL:
                    row[f"{model}_torch_spread"] = measure(
                        lambda p=path: project_pipeline(torch_default, str(p), "spread"), runs
                    )
                if "reference" in row:
                    row[f"{model}_speedup"] = {
                        strategy: round(
                            row["reference"]["stages"]["total"]["median_ms"]
                            / row[f"{model}_{strategy}"]["stages"]["total"]["median_ms"],
                            2,
                        )
                        for strategy in ("first30", "spread")
                    }
            report["inputs"][name] = row
            print_row(name, row)
        report["head_overhead"] = {
            model: head_overhead(clf, str(inputs["30s_44k_stereo.mp3"]), runs)
            for model, clf in models.items()
            if clf.open_set is not None or clf.mood_head is not None
        }
        print(f"predict() with the open-set verdict and mood against without, 30-s MP3: {report['head_overhead']}")
        profiled = [clf for clf in models.values() if clf.config.model.family == "musicnn_crnn"]
        if profiled and profile:
            report["musicnn_profile_ms"] = model_profile(profiled[0], inputs["30s_22k_mono.wav"], runs)
            print(f"musicnn_crnn, ms for ten windows by stage: {report['musicnn_profile_ms']}")
            report["timbral_conv_variants"] = timbral_conv_variants(profiled[0], inputs["30s_22k_mono.wav"], runs)
            print(f"timbral convolutions, ms for ten windows by formulation: {report['timbral_conv_variants']}")
        report["cold_start_s"] = {name: round(cold_start(inputs["30s_22k_mono.wav"], name), 2) for name in models} | {
            "reference": round(cold_start(inputs["30s_22k_mono.wav"], None), 2)
        }
        report["cli_songs_per_s"] = {
            f"jobs_{jobs}": round(cli_throughput(folder, inputs["30s_22k_mono.wav"], jobs=jobs), 1) for jobs in (1, 2)
        }
        if precision_check:
            report["reduced_precision"] = reduced_precision_check(models[DEFAULT_MODEL])
        if tagging:
            report["tagging"] = tagging_bench(folder, inputs["30s_22k_mono.wav"], tagging, os.cpu_count() or 1)
            print(
                f"tagging {tagging} songs, songs/s: {report['tagging']['songs_per_s']} "
                f"(ratio to single-process CLI: {report['tagging']['ratio_to_single']})"
            )
    print(f"cold start to first prediction (s): {report['cold_start_s']}")
    print(f"CLI batch, default model, songs/s (100 x 30-s WAV, start-up included): {report['cli_songs_per_s']}")
    print(f"machine: {report['machine']}")
    Path(out).write_text(json.dumps(report, indent=2))
    return report


def print_row(name: str, row: dict[str, Any]) -> None:
    for side, value in row.items():
        if side.endswith("_speedup"):
            print(f"{name:22s} {side:26s} reference/model, median total: {value}")
            continue
        s = value["stages"]
        print(
            f"{name:22s} {side:26s} "
            + "  ".join(
                f"{k}={s[k]['median_ms']:7.1f}ms (min {s[k]['min_ms']:6.1f})"
                for k in ("decode", "features", "model", "total")
            )
            + f"  peakRSS+{value['peak_rss_growth_mb']} MB"
        )
