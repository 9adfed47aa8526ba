"""Serving on ONNX Runtime alone (issue 28): no torch on the CPU path, a self-contained export.

Runs in both installs: the full one (torch installed but never imported on this path) and the
torch-free serve venv CI builds from requirements-serve.txt. Tests that compare against
PyTorch skip in the serve venv, with the reason.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import CLIPS, requires_torch
from genre_core.classifier import GenreClassifier
from genre_core.errors import CheckpointError
from genre_core.models.devices import resolve_device, torch_installed
from genre_core.models.registry import SHIPPED_MODELS
from genre_core.models.serving import onnx_path, open_served, sidecar_path

ROOT = Path(__file__).resolve().parents[1]


def fresh(code: str) -> dict:
    """Run `code` in a new interpreter at the repository root; it prints one JSON object."""
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("model", sorted(SHIPPED_MODELS))
def test_a_cpu_prediction_and_its_explanation_import_no_torch(model):
    out = fresh(
        "import sys, json; from genre_core import GenreClassifier; from genre_core.explain import occlusion_saliency;"
        f"c = GenreClassifier.load({model!r}); p = c.predict('tests/data/rock.ogg', keep_features=True);"
        "s = occlusion_saliency(c, p.features[0], p.genre());"
        "t = c.predict('tests/data/rock.ogg', strategy='timeline');"
        "print(json.dumps({'torch': sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'librosa')),"
        " 'runtime': c.runtime_label, 'device': c.device, 'genre': p.genre(), 'saliency': float(abs(s).max()),"
        " 'timeline': len(t.window_probs)}))"
    )
    assert out["torch"] == []
    assert out["runtime"].startswith("ONNX Runtime") and out["device"] == "cpu"
    assert out["saliency"] > 0 and out["timeline"] > 1


def test_the_cli_inference_commands_import_no_torch(tmp_path):
    """predict, explain, tag and write-tags (a dry run) in one process, as a deployed CLI runs them."""
    library = tmp_path / "library"
    library.mkdir()
    for genre in ("jazz", "metal"):
        shutil.copy(CLIPS[genre], library / f"{genre}.ogg")
    table = tmp_path / "tags.csv"
    out = fresh(
        "import sys, json, contextlib, io; from genre_core.cli import main;"
        "buf = io.StringIO()\n"
        "with contextlib.redirect_stdout(buf):\n"
        f"    codes = [main(['predict', 'tests/data/disco.ogg', '--format', 'json']),"
        f" main(['explain', 'tests/data/disco.ogg', '--model', 'crnn']),"
        f" main(['tag', {str(library)!r}, '--out', {str(table)!r}, '--workers', '1', '--quiet']),"
        f" main(['write-tags', {str(table)!r}])]\n"
        "print(json.dumps({'codes': codes, 'torch': 'torch' in sys.modules}))"
    )
    assert out == {"codes": [0, 0, 0, 0], "torch": False}
    assert table.read_text().count("\n") >= 3  # a header and both songs


def test_the_device_is_chosen_without_torch_on_a_machine_with_no_gpu():
    out = fresh(
        "import sys, json; from genre_core.models.devices import resolve_device, gpu_may_exist;"
        "d = resolve_device('auto'); print(json.dumps({'device': d, 'gpu': gpu_may_exist(),"
        " 'torch': 'torch' in sys.modules}))"
    )
    if not out["gpu"]:  # these CPU machines: auto is the CPU, decided without importing torch
        assert out == {"device": "cpu", "gpu": False, "torch": False}
    else:  # a GPU machine: torch decides, as before
        assert out["torch"] == torch_installed()


@pytest.mark.parametrize("model", sorted(SHIPPED_MODELS))
def test_each_shipped_sidecar_is_current(model):
    """A checkpoint saved without its sidecar, or an export from other weights, fails here, so it cannot ship."""
    served, problem = open_served(SHIPPED_MODELS[model])
    assert served is not None, problem
    assert served.info.labels == served.info.config.labels and len(served.info.band_mean) > 0
    assert served.info.n_parameters > 0 and served.info.metrics.get("test")


@requires_torch
@pytest.mark.parametrize("model", sorted(SHIPPED_MODELS))
def test_served_model_equals_the_checkpoint_it_came_from(model):
    """Everything the sidecar carries is what the checkpoint holds, and predictions agree with PyTorch's."""
    from genre_core.models.checkpoint import load_checkpoint
    from genre_core.models.onnx import model_info

    checkpoint = load_checkpoint(model)
    served = GenreClassifier.load(model, device="cpu")
    assert "torch" not in type(served.network).__module__
    info = model_info(checkpoint)
    assert served.info.config == info.config and served.info.tag_labels == info.tag_labels
    assert served.info.calibration == json.loads(json.dumps(info.calibration))
    assert served.info.saliency_grid == info.saliency_grid and served.info.n_parameters == info.n_parameters
    np.testing.assert_array_equal(served.info.band_mean, info.band_mean)
    reference = GenreClassifier(checkpoint, device="cpu", runtime="torch")
    for genre in ("blues", "hiphop", "pop"):
        a, b = served.predict(CLIPS[genre]), reference.predict(CLIPS[genre])
        np.testing.assert_allclose(a.window_probs, b.window_probs, rtol=0, atol=1e-5)
        assert a.genre() == b.genre() and a.is_other == b.is_other
        if b.other_probability is not None:
            assert a.other_probability == pytest.approx(b.other_probability, abs=1e-5)
        if b.tag_probs is not None:
            np.testing.assert_allclose(a.tag_probs, b.tag_probs, rtol=0, atol=1e-5)
            assert a.mood["quadrant"] == b.mood["quadrant"]


@pytest.fixture
def served_copy(tmp_path) -> Path:
    """The small shipped model's checkpoint, export and sidecar, copied where a test may change them."""
    target = tmp_path / "model.pt"
    source = SHIPPED_MODELS["crnn"]
    for make in (Path, onnx_path, sidecar_path):
        shutil.copy(make(source), make(target))
    return target


def test_an_edited_checkpoint_makes_the_sidecar_stale(served_copy):
    assert open_served(served_copy)[0] is not None
    served_copy.write_bytes(served_copy.read_bytes() + b"\0")  # any change to the file, not only its weights
    served, problem = open_served(served_copy)
    assert served is None and "stale" in problem and "python -m genre_core export" in problem


def test_an_export_from_other_weights_is_stale(served_copy):
    shutil.copy(onnx_path(SHIPPED_MODELS["musicnn_crnn"]), onnx_path(served_copy))
    served, problem = open_served(served_copy)
    assert served is None and "other weights" in problem and "stale" in problem


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: sidecar_path(p).unlink(), "no serving sidecar"),
        (lambda p: sidecar_path(p).write_text("{not json"), "not a readable serving sidecar"),
        (lambda p: onnx_path(p).unlink(), "no export"),
        (lambda p: onnx_path(p).write_text("not a model"), "cannot open"),
    ],
)
def test_a_missing_or_damaged_artefact_says_how_to_export(served_copy, damage, message):
    damage(served_copy)
    served, problem = open_served(served_copy)
    assert served is None and message in problem and "python -m genre_core export" in problem


def test_without_a_current_export_the_full_install_falls_back_and_the_serve_install_says_why(served_copy):
    sidecar_path(served_copy).unlink()
    if torch_installed():
        assert GenreClassifier.load(served_copy, device="cpu").runtime_label.startswith(("ONNX", "PyTorch"))
    else:
        with pytest.raises(CheckpointError, match="no torch to run the checkpoint itself.*python -m genre_core export"):
            GenreClassifier.load(served_copy, device="cpu")


def test_an_export_and_sidecar_serve_without_the_checkpoint(tmp_path):
    """A deploy may ship only `.onnx` + `.serve.json`: the checkpoint is not needed to serve."""
    target = tmp_path / "genre_crnn.pt"
    for make in (onnx_path, sidecar_path):
        shutil.copy(make(SHIPPED_MODELS["crnn"]), make(target))
    clf = GenreClassifier.load(onnx_path(target), device="cpu")
    reference = GenreClassifier.load("crnn", device="cpu")
    np.testing.assert_array_equal(
        clf.predict(CLIPS["reggae"]).window_probs, reference.predict(CLIPS["reggae"]).window_probs
    )


def test_asking_for_cuda_where_it_cannot_run_is_a_clear_error():
    if torch_installed():
        import torch

        if torch.cuda.is_available():  # a GPU machine: CUDA is what it gets
            assert resolve_device("cuda") == "cuda"
            return
        message = "no CUDA GPU is available"
    else:
        message = "torch-free serve install"
    with pytest.raises(ValueError, match=message):
        resolve_device("cuda")


def test_the_serve_requirements_pin_what_the_full_install_pins():
    """The slim install may only leave packages out, never run other versions."""

    def pins(name: str) -> dict[str, str]:
        lines = (ROOT / name).read_text().splitlines()
        return dict(line.split("==") for line in lines if "==" in line and not line.startswith("#"))

    serve, full = pins("requirements-serve.txt"), pins("requirements.txt")
    assert "torch" not in serve and "onnxruntime" in serve
    assert {name: full.get(name) for name in serve} == serve
