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

import argparse
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
from functools import partial
from pathlib import Path
from typing import Any

import librosa
import numpy as np
import soundfile as sf
import torch

from .classifier import GenreClassifier
from .features import librosa_reference

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"


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
    clf.predict_features(torch.from_numpy(mels))
    t3 = time.perf_counter()
    return {"decode": t1 - t0, "features": t2 - t1, "model": t3 - t2, "total": t3 - t0}


def project_pipeline(clf: GenreClassifier, path: str, strategy: str) -> dict[str, float]:
    from .audio import open_audio
    from .windows import read_windows

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
    from .checkpoint import Checkpoint, build_model
    from .config import GenreConfig, ModelConfig
    from .reference import REFERENCE_ARCH

    config = GenreConfig(model=ModelConfig(**REFERENCE_ARCH))
    torch.manual_seed(0)
    return GenreClassifier(Checkpoint(build_model(config).eval(), config), device="cpu")


def cold_start(path: Path, model: str | None) -> float:
    """Seconds from a fresh interpreter to the first prediction; `model` None runs the reference pipeline."""
    code = (
        "import time; t=time.perf_counter();"
        "from genre_core.classifier import GenreClassifier; from genre_core import bench;"
        + (
            f"bench.baseline_pipeline(bench.reference_classifier(), {str(path)!r})"
            if model is None
            else f"GenreClassifier.load({model!r}, device='cpu').predict({str(path)!r})"
        )
        + ";print(time.perf_counter()-t)"
    )
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


def median_ms(fn: Callable[[], Any], runs: int) -> float:
    """Median wall time of `runs` calls after one warm-up call, in ms."""
    fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return round(1000 * statistics.median(times), 1)


@torch.inference_mode()
def model_profile(clf: GenreClassifier, path: Path, runs: int) -> dict[str, float]:
    """Where a musicnn-family model's time goes on ten windows: ms per stage, median of `runs`."""
    features = clf.extract(str(path), "spread")[2]
    net = clf.model
    stages: dict[str, Callable[[], Any]] = {
        "timbral 7x38": lambda: net.musicnn.timbral[0](net.musicnn.input_bn(features.transpose(1, 2).unsqueeze(1))),
        "timbral 7x67": lambda: net.musicnn.timbral[1](net.musicnn.input_bn(features.transpose(1, 2).unsqueeze(1))),
        "temporal 128/64/32x1": lambda: [
            b(net.musicnn.input_bn(features.transpose(1, 2).unsqueeze(1))) for b in net.musicnn.temporal
        ],
        "whole front end": lambda: net.musicnn.frontend(features),
        "whole model + tags": lambda: net.forward_with_tags(features),
        "plain port (no pooling reorder), whole model": lambda: clf.checkpoint.model.forward_with_tags(features),
    }
    return {name: median_ms(fn, runs) for name, fn in stages.items()}


def strided_gemm(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """A one-input-channel conv as one matrix product over a strided view of `x` (no im2col copy)."""
    kh, kw = weight.shape[2:]
    patches = x[:, 0].unfold(1, kh, 1).unfold(2, kw, 1)  # (n, time, freq, kh, kw)
    return patches.reshape(*patches.shape[:3], kh * kw) @ weight.reshape(weight.shape[0], -1).T


@torch.inference_mode()
def timbral_conv_variants(clf: GenreClassifier, path: Path, runs: int) -> dict[str, dict[str, float]]:
    """The two timbral convolutions (~80 % of musicnn's multiply-adds) in each formulation, ms for ten windows.

    fp32 (oneDNN, as shipped), channels-last, a GEMM over a strided view of the input (no im2col copy),
    and int8 (fbgemm, per-channel weights; with its max error relative to the fp32 output).
    """
    import warnings

    import torch.ao.nn.quantized as nnq
    import torch.nn.functional as F

    features = clf.extract(str(path), "spread")[2]
    x = F.pad(clf.model.musicnn.input_bn(features.transpose(1, 2).unsqueeze(1)), (0, 0, 3, 3))
    out: dict[str, dict[str, float]] = {}
    for block in clf.model.musicnn.timbral:
        weight, bias = block.weight, block.bias.flatten()
        kh, kw = weight.shape[2:]
        ref = F.conv2d(x, weight, bias)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch marks its quantized-tensor API deprecated
            torch.backends.quantized.engine = "fbgemm"
            shift = float(-x.min())
            qx = torch.quantize_per_tensor(x + shift, float((x.max() + shift) / 255), 0, torch.quint8)
            qw = torch.quantize_per_channel(
                weight,
                weight.abs().amax(dim=(1, 2, 3)) / 127,
                torch.zeros(len(weight), dtype=torch.long),
                0,
                torch.qint8,
            )
            qconv = nnq.Conv2d(1, len(weight), (kh, kw))
            # The input shift is undone through the bias: conv(x + s) = conv(x) + s * sum(w).
            qconv.set_weight_bias(qw, bias - shift * weight.sum(dim=(1, 2, 3)))
            qconv.scale, qconv.zero_point = float(ref.abs().max() / 127), 128
            int8_error = float((qconv(qx).dequantize() - ref).abs().max() / ref.abs().max())
        x_cl = x.contiguous(memory_format=torch.channels_last)
        w_cl = weight.contiguous(memory_format=torch.channels_last)
        variants = {
            "fp32": partial(F.conv2d, x, weight, bias),
            "channels_last": partial(F.conv2d, x_cl, w_cl, bias),
            "strided_gemm": partial(strided_gemm, x, weight),
            "int8": partial(qconv, qx),
        }
        row = {f"{name}_ms": median_ms(fn, runs) for name, fn in variants.items()}
        row["int8_max_rel_error"] = round(int8_error, 4)
        out[f"timbral {kh}x{kw}"] = row
    return out


def run_bench(args: argparse.Namespace) -> int:
    from .checkpoint import DEFAULT_MODEL, SHIPPED_MODELS

    if args.precision_only:  # the decision check alone: minutes, not the whole bench
        report = {"reduced_precision": reduced_precision_check(GenreClassifier.load(DEFAULT_MODEL, device="cpu"))}
        Path(args.out).write_text(json.dumps(report, indent=2))
        return 0

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
        "runs": args.runs,
        "default_model": DEFAULT_MODEL,
        "inputs": {},
    }
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        inputs = make_inputs(folder)
        for name, path in inputs.items():
            row: dict[str, Any] = {}
            if not name.startswith("60min"):  # the reference would decode an hour: skip, report the models only
                row["reference"] = measure(lambda p=path: baseline_pipeline(reference, str(p)), args.runs)
            for model, clf in models.items():
                for strategy in ("first30", "spread"):
                    row[f"{model}_{strategy}"] = measure(
                        lambda p=path, c=clf, s=strategy: project_pipeline(c, str(p), s), args.runs
                    )
                if model == DEFAULT_MODEL:
                    row[f"{model}_torch_spread"] = measure(
                        lambda p=path: project_pipeline(torch_default, str(p), "spread"), args.runs
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
        profiled = [clf for clf in models.values() if hasattr(clf.model, "musicnn")]
        if profiled and args.profile:
            report["musicnn_profile_ms"] = model_profile(profiled[0], inputs["30s_22k_mono.wav"], args.runs)
            print(f"musicnn_crnn, ms for ten windows by stage: {report['musicnn_profile_ms']}")
            report["timbral_conv_variants"] = timbral_conv_variants(profiled[0], inputs["30s_22k_mono.wav"], args.runs)
            print(f"timbral convolutions, ms for ten windows by formulation: {report['timbral_conv_variants']}")
        report["cold_start_s"] = {name: round(cold_start(inputs["30s_22k_mono.wav"], name), 2) for name in models} | {
            "reference": round(cold_start(inputs["30s_22k_mono.wav"], None), 2)
        }
        report["cli_songs_per_s"] = {
            f"jobs_{jobs}": round(cli_throughput(folder, inputs["30s_22k_mono.wav"], jobs=jobs), 1) for jobs in (1, 2)
        }
        if args.precision_check:
            report["reduced_precision"] = reduced_precision_check(models[DEFAULT_MODEL])
        if args.tagging:
            report["tagging"] = tagging_bench(folder, inputs["30s_22k_mono.wav"], args.tagging, os.cpu_count() or 1)
            print(
                f"tagging {args.tagging} songs, songs/s: {report['tagging']['songs_per_s']} "
                f"(ratio to single-process CLI: {report['tagging']['ratio_to_single']})"
            )
    print(f"cold start to first prediction (s): {report['cold_start_s']}")
    print(f"CLI batch, default model, songs/s (100 x 30-s WAV, start-up included): {report['cli_songs_per_s']}")
    print(f"machine: {report['machine']}")
    Path(args.out).write_text(json.dumps(report, indent=2))
    return 0


def reduced_precision_check(clf: GenreClassifier, splits: tuple[str, ...] = ("valid", "test")) -> dict[str, Any]:
    """OpenVINO's bf16 inference of the default model's export against fp32 ONNX Runtime, on whole splits.

    The fp32 swap itself is checked on the same songs: PyTorch against ONNX Runtime, decisions changed.

    Reduced precision may ship only if it changes at most 1 % of song-level decisions and costs at most
    0.5 points of accuracy on every split; this measures both. OpenVINO is not a requirement
    (`pip install openvino`); on a CPU without bf16 it runs fp32 and the check says so.
    """
    import csv

    from .errors import UsageError
    from .runtime import onnx_path

    try:
        import openvino
    except ImportError as exc:
        raise UsageError("--precision-check runs OpenVINO, which is not a requirement: pip install openvino") from exc
    if not (SHARED / "manifest.csv").is_file():
        raise UsageError(f"--precision-check reads the valid and test splits from {SHARED}, which is absent")

    compiled = openvino.Core().compile_model(
        str(onnx_path(clf.checkpoint.path)), "CPU", {"INFERENCE_NUM_THREADS": torch.get_num_threads()}
    )
    precision = str(compiled.get_property("INFERENCE_PRECISION_HINT"))
    reference = GenreClassifier(clf.checkpoint, device="cpu", runtime="torch")
    rows = [r for r in csv.DictReader((SHARED / "manifest.csv").open()) if r["split"] in splits]
    out: dict[str, Any] = {"openvino": openvino.__version__, "precision": precision}
    for split in splits:
        changed = right_fp32 = right_low = swap_changed = 0
        swap_largest = 0.0
        recs = [r for r in rows if r["split"] == split]
        largest = 0.0
        for r in recs:
            features = clf.extract(str(SHARED / r["path"]), "spread")[2]
            fp32 = clf.probabilities(clf.logits(features)).mean(axis=0)
            low = clf.probabilities(torch.from_numpy(compiled(features.numpy())[0])).mean(axis=0)
            largest = max(largest, float(np.abs(fp32 - low).max()))
            torch_fp32 = reference.probabilities(reference.logits(features)).mean(axis=0)
            swap_changed += int(torch_fp32.argmax() != fp32.argmax())
            swap_largest = max(swap_largest, float(np.abs(torch_fp32 - fp32).max()))
            changed += int(fp32.argmax() != low.argmax())
            right_fp32 += int(clf.labels[fp32.argmax()] == r["genre"])
            right_low += int(clf.labels[low.argmax()] == r["genre"])
        n = max(len(recs), 1)
        out[split] = {
            "recordings": len(recs),
            "decisions_changed_pct": round(100 * changed / n, 2),
            "accuracy_fp32_pct": round(100 * right_fp32 / n, 2),
            "accuracy_reduced_pct": round(100 * right_low / n, 2),
            "largest_probability_change": round(largest, 4),
            "fp32_onnx_vs_torch_decisions_changed": swap_changed,
            "fp32_onnx_vs_torch_largest_probability_change": swap_largest,
        }
        out[split]["ships"] = out[split]["decisions_changed_pct"] <= 1.0 and (
            out[split]["accuracy_fp32_pct"] - out[split]["accuracy_reduced_pct"] <= 0.5
        )
    print(f"reduced precision ({precision}, OpenVINO) against fp32 ONNX Runtime: {out}")
    return out


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
