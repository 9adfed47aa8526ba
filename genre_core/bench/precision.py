"""Reduced precision (OpenVINO bf16) against fp32 on whole splits: may it ship?

`python -m genre_core bench --precision-check` / `--precision-only`. OpenVINO is not a
requirement; without it, or without ../shared, the check is a one-line usage error.
"""

from __future__ import annotations

import csv
from typing import Any

import numpy as np
import torch

from ..classifier import GenreClassifier
from ..config import SHARED_DATA as SHARED
from ..errors import UsageError
from ..models.onnx import onnx_path


def reduced_precision_check(clf: GenreClassifier, splits: tuple[str, ...] = ("valid", "test")) -> dict[str, Any]:
    """OpenVINO's bf16 inference of the default model's export against fp32 ONNX Runtime, on whole splits.

    The fp32 swap itself is checked on the same songs: PyTorch against ONNX Runtime, decisions changed.

    Reduced precision may ship only if it changes at most 1 % of song-level decisions and costs at most
    0.5 points of accuracy on every split; this measures both. OpenVINO is not a requirement
    (`pip install openvino`); on a CPU without bf16 it runs fp32 and the check says so.
    """
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
    manifest = csv.DictReader((SHARED / "manifest.csv").open())
    rows = [r for r in manifest if r["split"] in splits and r["genre"] in clf.labels]  # never `other`
    out: dict[str, Any] = {"openvino": openvino.__version__, "precision": precision}
    for split in splits:
        changed = right_fp32 = right_low = swap_changed = 0
        swap_largest = 0.0
        recs = [r for r in rows if r["split"] == split]
        largest = 0.0
        for r in recs:
            features = clf.extract(str(SHARED / r["path"]), "spread")[2]
            fp32 = clf.probabilities(clf.logits(features)).mean(axis=0)
            low = clf.probabilities(compiled(features)[0]).mean(axis=0)
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
