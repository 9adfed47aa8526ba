"""`bench --int8`: int8 variants of the default model's export against fp32, on whole splits. May one ship?

Variants (ONNX Runtime's quantizer, calibrated on windows of train songs, never valid or test):
- dynamic: int8 weights of MatMul/Gemm, activations quantised on the fly;
- static QDQ, Conv only, per-channel weights, the first two conv layers (the front end's) kept fp32,
  calibrated by MinMax, and again by Percentile (99.999);
- static QOperator (fused int8 operators), the same layers, MinMax.
Per variant and split: song-level genre decisions changed against fp32, accuracy, macro-F1 (of the ten),
the open-set verdict and the mood quadrant changed, accuracy by source, and ms per 10 windows (median).
The rule a variant must meet to become the CPU default: at most 1 % of decisions changed and no figure
worse by more than its noise. The fp32 session is timed in the same run.
"""

from __future__ import annotations

import csv
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..classifier import GenreClassifier
from ..config import SHARED_DATA as SHARED
from ..errors import GenreCoreError, UsageError
from ..models.onnx import onnx_path
from ..models.serving import OnnxModel

CALIBRATION_SONGS = 24


def songs(split: str, labels: tuple[str, ...]) -> list[dict[str, str]]:
    rows = csv.DictReader((SHARED / "manifest.csv").open())
    return [r for r in rows if r["split"] == split and (r["genre"] in labels or split == "train")]


def features_of(clf: GenreClassifier, rows: list[dict[str, str]]) -> list[tuple[dict[str, str], np.ndarray]]:
    out = []
    for r in rows:
        try:
            out.append((r, clf.extract(str(SHARED / r["path"]), "spread")[2]))
        except GenreCoreError:
            continue
    return out


def variants(fp32: Path, folder: Path, calibration: np.ndarray) -> dict[str, Path]:
    import onnx
    from onnxruntime.quantization import (
        CalibrationDataReader,
        CalibrationMethod,
        QuantFormat,
        QuantType,
        quantize_dynamic,
        quantize_static,
    )

    class Windows(CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter([{"features": calibration[i : i + 2]} for i in range(0, len(calibration), 2)])

        def get_next(self):  # noqa: ANN202 (onnxruntime's interface)
            return next(self.items, None)

    convs = [n.name for n in onnx.load(str(fp32)).graph.node if n.op_type == "Conv"]
    keep = convs[:2]
    made: dict[str, Path] = {}
    made["int8 dynamic (MatMul/Gemm)"] = folder / "dynamic.onnx"
    quantize_dynamic(str(fp32), str(made["int8 dynamic (MatMul/Gemm)"]), weight_type=QuantType.QInt8)
    for name, method, fmt in (
        ("int8 static QDQ, Conv, MinMax", CalibrationMethod.MinMax, QuantFormat.QDQ),
        ("int8 static QDQ, Conv, Percentile", CalibrationMethod.Percentile, QuantFormat.QDQ),
        ("int8 static QOperator, Conv, MinMax", CalibrationMethod.MinMax, QuantFormat.QOperator),
    ):
        made[name] = folder / f"{len(made)}.onnx"
        quantize_static(
            str(fp32),
            str(made[name]),
            Windows(),
            quant_format=fmt,
            op_types_to_quantize=["Conv"],
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=keep,
            calibrate_method=method,
        )
    return made


def outputs(session: OnnxModel, data: list[tuple[dict[str, str], np.ndarray]]) -> tuple[list, float]:
    """(logits and tags per song, median ms per 10 windows)."""
    results, times = [], []
    for _, features in data:
        start = time.perf_counter()
        logits, tags = zip(*(session(features[i : i + 2]) for i in range(0, len(features), 2)), strict=True)
        times.append((time.perf_counter() - start) * 10 / len(features))
        results.append((np.concatenate(logits), np.concatenate(tags) if tags[0] is not None else None))
    return results, 1000 * statistics.median(times)


def decisions(clf: GenreClassifier, logits: np.ndarray, tags: np.ndarray | None) -> tuple[int, bool | None, Any]:
    probs = clf.probabilities(logits)
    _, _, is_other = clf.open_set_verdict(logits, tags, probs)
    mood = clf.mood_head.mood(tags)["quadrant"] if clf.mood_head is not None and tags is not None else None
    return int(probs.mean(axis=0).argmax()), is_other, mood


def macro_f1(truth: list[int], predicted: list[int], classes: int) -> float:
    scores = []
    for c in range(classes):
        tp = sum(t == c and p == c for t, p in zip(truth, predicted, strict=True))
        fp = sum(t != c and p == c for t, p in zip(truth, predicted, strict=True))
        fn = sum(t == c and p != c for t, p in zip(truth, predicted, strict=True))
        if tp + fp + fn:
            scores.append(2 * tp / (2 * tp + fp + fn))
    return float(np.mean(scores))


def genre_figures(genre: list[int], truth: list[int], sources: list[str], classes: int) -> dict[str, Any]:
    """Accuracy, macro-F1 and accuracy by source of song-level genre decisions: every whole-split check's row."""
    right = np.asarray(genre) == np.asarray(truth)
    where = np.asarray(sources)
    return {
        "accuracy_pct": round(100 * float(right.mean()), 2),
        "macro_f1": round(macro_f1(truth, genre, classes), 4),
        "accuracy_by_source_pct": {s: round(100 * float(right[where == s].mean()), 1) for s in sorted(set(sources))},
    }


def int8_check(model: str | None = None) -> dict[str, Any]:
    if not (SHARED / "manifest.csv").is_file():
        raise UsageError(f"--int8 reads the train, valid and test splits from {SHARED}, which is absent")
    clf = GenreClassifier.load(model, device="cpu", runtime="onnx")
    fp32 = onnx_path(clf.info.path)
    rng = np.random.default_rng(0)
    train = songs("train", clf.labels)
    picked = [train[i] for i in rng.choice(len(train), CALIBRATION_SONGS, replace=False)]
    calibration = np.concatenate([f for _, f in features_of(clf, picked)])
    report: dict[str, Any] = {"calibration_windows": int(len(calibration)), "variants": {}}
    with tempfile.TemporaryDirectory() as folder:
        files = {"fp32": fp32, **variants(fp32, Path(folder), calibration)}
        sessions = {name: OnnxModel(path) for name, path in files.items()}
        for split in ("valid", "test"):
            data = features_of(clf, songs(split, clf.labels))
            truth = [clf.labels.index(r["genre"]) for r, _ in data]
            sources = [r["source"] for r, _ in data]
            base, base_ms = outputs(sessions["fp32"], data)
            base_decisions = [decisions(clf, *o) for o in base]
            for name, session in sessions.items():
                out, ms = (base, base_ms) if name == "fp32" else outputs(session, data)
                mine = [decisions(clf, *o) for o in out]
                genre = [d[0] for d in mine]
                n = len(data)
                row = {
                    "ms_per_10_windows": round(ms, 1),
                    "speedup_vs_fp32": round(base_ms / ms, 2),
                    "decisions_changed_pct": round(
                        100 * sum(a[0] != b[0] for a, b in zip(mine, base_decisions, strict=True)) / n, 2
                    ),
                    "open_set_changed_pct": round(
                        100 * sum(a[1] != b[1] for a, b in zip(mine, base_decisions, strict=True)) / n, 2
                    ),
                    "mood_changed_pct": round(
                        100 * sum(a[2] != b[2] for a, b in zip(mine, base_decisions, strict=True)) / n, 2
                    ),
                    **genre_figures(genre, truth, sources, len(clf.labels)),
                }
                report["variants"].setdefault(name, {})[split] = row
    for name, splits in report["variants"].items():
        splits["ships"] = name != "fp32" and all(
            splits[s]["decisions_changed_pct"] <= 1.0
            and splits[s]["accuracy_pct"] >= report["variants"]["fp32"][s]["accuracy_pct"] - 0.5
            and splits[s]["speedup_vs_fp32"] > 1.0
            for s in ("valid", "test")
        )
    return report
