"""The ONNX exports: kept equal to their checkpoints, refused when stale, chosen by `runtime`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import CLIPS
from genre_core.classifier import GenreClassifier
from genre_core.cli import main
from genre_core.errors import CheckpointError
from genre_core.models.checkpoint import load_checkpoint, save_checkpoint
from genre_core.models.onnx import OnnxModel, export_problem, fingerprint, onnx_path
from genre_core.models.registry import SHIPPED_MODELS
from genre_core.models.serving import sidecar_path

ROOT = Path(__file__).resolve().parents[1]
#: Real clips of four genres: each model's export is compared on all of their windows.
PARITY_CLIPS = [CLIPS[g] for g in ("blues", "classical", "metal", "reggae")]


@pytest.mark.parametrize("name", sorted(SHIPPED_MODELS))
def test_each_shipped_export_is_current_and_equal_to_its_checkpoint(name):
    """A stale or missing export fails here, so it cannot ship."""
    checkpoint = load_checkpoint(name)
    assert export_problem(checkpoint) is None, export_problem(checkpoint)
    onnx = GenreClassifier(checkpoint, device="cpu", runtime="onnx")
    reference = GenreClassifier(checkpoint, device="cpu", runtime="torch")
    assert onnx.runtime_label.startswith("ONNX Runtime") and reference.runtime_label.startswith("PyTorch")
    for clip in PARITY_CLIPS:
        a, b = onnx.predict(clip), reference.predict(clip)
        np.testing.assert_allclose(a.window_probs, b.window_probs, rtol=0, atol=1e-5)
        assert a.genre() == b.genre()
        if b.tag_probs is not None:
            np.testing.assert_allclose(a.tag_probs, b.tag_probs, rtol=0, atol=1e-5)
        else:
            assert a.tag_probs is None


def test_auto_runs_the_export_on_a_cpu():
    assert GenreClassifier.load(device="cpu").runtime_label.startswith("ONNX Runtime")


@pytest.fixture
def copied_model(tmp_path) -> Path:
    """The small shipped model and its export, copied where a test may change them."""
    target = tmp_path / "model.pt"
    shutil.copy(SHIPPED_MODELS["crnn"], target)
    shutil.copy(onnx_path(SHIPPED_MODELS["crnn"]), onnx_path(target))
    shutil.copy(sidecar_path(SHIPPED_MODELS["crnn"]), sidecar_path(target))
    return target


def test_changed_weights_make_the_export_stale_and_saving_refreshes_it(copied_model):
    ckpt = load_checkpoint(copied_model)
    with torch.no_grad():
        ckpt.model.head[-1].weight.add_(0.5)  # a retrained head, say
    save_checkpoint(copied_model, ckpt.model, ckpt.config, export=False)
    stale = load_checkpoint(copied_model)
    assert "stale" in export_problem(stale)
    assert GenreClassifier(stale, device="cpu").runtime_label.startswith("PyTorch")  # auto falls back
    with pytest.raises(CheckpointError, match="stale"):
        GenreClassifier(stale, device="cpu", runtime="onnx")

    save_checkpoint(copied_model, stale.model, stale.config)  # what training and calibration do
    fresh = load_checkpoint(copied_model)
    assert OnnxModel(onnx_path(copied_model), 1).fingerprint == fingerprint(fresh.model, fresh.config.to_dict())
    a = GenreClassifier(fresh, device="cpu", runtime="onnx").predict(CLIPS["jazz"])
    b = GenreClassifier(fresh, device="cpu", runtime="torch").predict(CLIPS["jazz"])
    np.testing.assert_allclose(a.window_probs, b.window_probs, rtol=0, atol=1e-5)


def test_saving_new_figures_keeps_the_export(copied_model):
    """Calibration and metrics are outside the graph: re-saving them must not re-export or stale it."""
    before = onnx_path(copied_model).stat().st_mtime_ns
    ckpt = load_checkpoint(copied_model)
    save_checkpoint(copied_model, ckpt.model, ckpt.config, {"new": 1}, ckpt.training, {"temperature": 2.0})
    assert onnx_path(copied_model).stat().st_mtime_ns == before
    assert export_problem(load_checkpoint(copied_model)) is None


def test_missing_or_damaged_export_falls_back_or_says_why(copied_model):
    onnx_path(copied_model).write_text("not a model")
    assert GenreClassifier.load(copied_model, device="cpu").runtime_label.startswith("PyTorch")
    with pytest.raises(CheckpointError, match="cannot open"):
        GenreClassifier.load(copied_model, device="cpu", runtime="onnx")
    onnx_path(copied_model).unlink()
    with pytest.raises(CheckpointError, match="no export"):
        GenreClassifier.load(copied_model, device="cpu", runtime="onnx")


def test_cli_runtime_option(capsys, copied_model):
    outputs = {}
    for runtime in ("onnx", "torch"):
        code = main(["predict", str(CLIPS["disco"]), "--model", "crnn", "--runtime", runtime, "--format", "json"])
        outputs[runtime] = capsys.readouterr().out
        assert code == 0
    assert outputs["onnx"].split('"genre"')[1][:30] == outputs["torch"].split('"genre"')[1][:30]
    onnx_path(copied_model).unlink()
    code = main(["predict", str(CLIPS["disco"]), "--model", str(copied_model), "--runtime", "onnx"])
    err = capsys.readouterr().err
    assert code == 1 and "error: Cannot run this model with ONNX Runtime" in err and "no export" in err


def test_export_command_writes_a_missing_export(capsys, copied_model):
    onnx_path(copied_model).unlink()
    assert main(["export", str(copied_model)]) == 0
    assert export_problem(load_checkpoint(copied_model)) is None


def test_frozen_musicnn_computes_its_tags_from_the_genre_path():
    """The shipped default kept musicnn as pretrained: its inference copy runs the mid end once, same outputs."""
    checkpoint = load_checkpoint("musicnn_crnn")
    fast = checkpoint.model.for_inference()
    assert fast.tags_share_backbone
    features = torch.from_numpy(GenreClassifier(checkpoint, device="cpu", runtime="torch").extract(CLIPS["rock"])[2])
    with torch.inference_mode():
        genre_a, tags_a = checkpoint.model.forward_with_tags(features)
        genre_b, tags_b = fast.forward_with_tags(features)
    torch.testing.assert_close(genre_b, genre_a, rtol=0, atol=1e-4)
    torch.testing.assert_close(tags_b, tags_a, rtol=0, atol=1e-5)
    with torch.no_grad():
        checkpoint.model.musicnn.mid[0].weight.mul_(1.01)  # a fine-tuned mid end
    assert not checkpoint.model.for_inference().tags_share_backbone


def test_the_library_imports_neither_the_benchmark_nor_the_cli():
    """No import cycle: bench reads the reference settings from their own module, and the library needs neither."""
    code = (
        "import sys, genre_core, genre_core.classifier, genre_core.bench;"
        "print(sorted(m for m in sys.modules if m in ('genre_core.cli', 'genre_core.bench')))"
    )
    library_only = (
        "import sys; from genre_core import GenreClassifier; GenreClassifier.load(device='cpu');"
        "print(sorted(m for m in ('genre_core.bench', 'genre_core.cli', 'onnx') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['genre_core.bench']"
    out = subprocess.run([sys.executable, "-c", library_only], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"  # nor the exporter's onnx package: ONNX Runtime reads the fingerprint


def test_precision_check_without_openvino_is_a_one_line_usage_error(capsys, monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "openvino", None)  # as on a machine without the optional package
    assert main(["bench", "--precision-only", "--out", str(tmp_path / "p.json")]) == 2
    err = capsys.readouterr().err
    assert "pip install openvino" in err and "Traceback" not in err


def test_the_distilled_comparison_reads_each_model_through_its_own_front_end(tmp_path, monkeypatch, capsys):
    """`bench --distilled` decides each song as `predict` does, per model, and says so when ../shared is absent."""
    from genre_core.bench import distilled

    shapes = set()
    for model in ("musicnn_crnn", "crnn"):
        clf = GenreClassifier.load(model, device="cpu", runtime="onnx")
        features = clf.extract(str(CLIPS["jazz"]), "spread")[2]
        shapes.add(features.shape[1:])
        genre, is_other, ms = distilled.song_outputs(clf, features)
        prediction = clf.predict(str(CLIPS["jazz"]))
        assert clf.labels[genre] == prediction.top_k(1, "mean")[0][0] and is_other == prediction.is_other and ms > 0
    assert len(shapes) == 2  # 96 mels at 16 kHz against 128 at 22050 Hz
    monkeypatch.setattr(distilled, "SHARED", tmp_path)
    assert main(["bench", "--distilled", "--out", str(tmp_path / "b.json")]) == 2
    assert "--distilled reads the valid and test splits" in capsys.readouterr().err


def test_the_cold_start_bench_runs_both_pipelines_in_fresh_processes(tmp_path):
    """`bench` times a fresh interpreter to the first prediction, ours and the reference's: both commands run."""
    from genre_core.bench.core import cold_start

    clip = tmp_path / "jazz.ogg"
    shutil.copy(CLIPS["jazz"], clip)
    assert cold_start(clip, None) > 0 and cold_start(clip, "crnn") > 0
