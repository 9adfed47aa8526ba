"""Aggregation maths by hand, and checkpoints: round trip, refusal, safety."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
import torch

from genre_core.aggregate import aggregate, top_k
from genre_core.config import GenreConfig, ModelConfig
from genre_core.errors import CheckpointError
from genre_core.models.checkpoint import load_checkpoint, save_checkpoint, write_metrics_index
from genre_core.models.families import build_model
from genre_core.models.registry import SHIPPED_MODELS

PROBS = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.1, 0.4]])


def test_mean_is_the_column_average():
    np.testing.assert_allclose(aggregate(PROBS, "mean"), [1.3 / 3, 1.1 / 3, 0.6 / 3])


def test_median_is_renormalised():
    # column medians 0.5, 0.3, 0.1 sum to 0.9
    np.testing.assert_allclose(aggregate(PROBS, "median"), [0.5 / 0.9, 0.3 / 0.9, 0.1 / 0.9])


def test_max_is_renormalised():
    # column maxima 0.6, 0.7, 0.4 sum to 1.7
    np.testing.assert_allclose(aggregate(PROBS, "max"), [0.6 / 1.7, 0.7 / 1.7, 0.4 / 1.7])


def test_methods_can_disagree_on_the_winner():
    assert aggregate(PROBS, "mean").argmax() == 0
    assert aggregate(PROBS, "max").argmax() == 1


def test_top_k_orders_and_truncates():
    assert top_k(np.array([0.1, 0.6, 0.3]), ["a", "b", "c"], 2) == [("b", 0.6), ("c", 0.3)]
    with pytest.raises(ValueError):
        top_k(np.array([1.0]), ["a"], 0)


def test_unknown_method_is_rejected():
    with pytest.raises(ValueError, match="mode"):
        aggregate(PROBS, "mode")


def test_checkpoint_round_trip_keeps_weights_config_and_metrics(tiny_checkpoint, tmp_path):
    ckpt = load_checkpoint(tiny_checkpoint)
    x = torch.randn(2, 128, 130)
    again = save_checkpoint(tmp_path / "again.pt", ckpt.model, ckpt.config, {"acc": 0.5}, {"epochs": 1})
    reloaded = load_checkpoint(again)
    assert reloaded.config == ckpt.config
    assert reloaded.metrics == {"acc": 0.5} and reloaded.training == {"epochs": 1}
    with torch.inference_mode():
        torch.testing.assert_close(reloaded.model(x), ckpt.model(x))


def test_config_the_code_cannot_honour_is_refused(tmp_path):
    config = GenreConfig(model=ModelConfig(conv_channels=(4,), freq_pools=(4,), time_pools=(2,), gru_hidden=4))
    path = save_checkpoint(tmp_path / "c.pt", build_model(config), config)
    payload = torch.load(path, weights_only=True)
    payload["config"]["model"]["attention_heads"] = 4
    torch.save(payload, path)
    with pytest.raises(CheckpointError, match="attention_heads"):
        load_checkpoint(path)


def test_missing_and_damaged_files_are_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="No model file"):
        load_checkpoint(tmp_path / "absent.pt")
    damaged = tmp_path / "damaged.pt"
    damaged.write_bytes(b"\x00not a checkpoint")
    with pytest.raises(CheckpointError):
        load_checkpoint(damaged)


class _Exploit:
    def __reduce__(self):
        return (print, ("code ran while loading",))


def test_pickled_code_is_never_executed(tmp_path, capsys):
    path = tmp_path / "evil.pt"
    with path.open("wb") as handle:
        pickle.dump({"state_dict": _Exploit(), "config": {}}, handle)
    with pytest.raises(CheckpointError):
        load_checkpoint(path)
    assert "code ran" not in capsys.readouterr().out


def test_inference_copy_computes_the_same_function(tiny_checkpoint):
    from genre_core.models.crnn import for_inference

    model = load_checkpoint(tiny_checkpoint).model
    with torch.no_grad():  # give batch norm non-trivial statistics to fold
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
                module.weight.uniform_(0.5, 1.5)
    fast = for_inference(model)
    x = torch.randn(3, 128, 130) * 20 - 40
    with torch.inference_mode():
        torch.testing.assert_close(fast(x), model(x), atol=1e-5, rtol=1e-5)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in fast.modules())


@pytest.mark.parametrize("name", sorted(SHIPPED_MODELS))
def test_models_metrics_json_mirrors_each_shipped_checkpoint(name):
    """README, model card and the Model page read the checkpoint; metrics.json must not lag it."""
    path = SHIPPED_MODELS[name]
    ckpt = load_checkpoint(path)
    index = json.loads((path.parent / "metrics.json").read_text())[path.stem]
    as_json = json.loads(json.dumps({"calibration": ckpt.calibration, **ckpt.metrics}))
    assert index["calibration"] == as_json["calibration"]
    assert index["calibration"]["tag_threshold"]["target_precision"] == 0.9
    assert index["test"] == as_json["test"] and index["valid"] == as_json["valid"]


def test_write_metrics_index_keeps_other_models_entries(tmp_path, tiny_checkpoint):
    index = tmp_path / "metrics.json"
    index.write_text(json.dumps({"other_model": {"test": {"x": 1}}}))
    path = tmp_path / "tiny.pt"
    path.write_bytes(tiny_checkpoint.read_bytes())
    assert write_metrics_index(path, load_checkpoint(path)) == index
    every = json.loads(index.read_text())
    assert every["other_model"] == {"test": {"x": 1}} and every["tiny"]["note"] == "random"


@pytest.mark.parametrize("method", ["mean", "median", "max"])
def test_tags_aggregate_to_each_tags_own_statistic_never_rescaled(method):
    """Independent per-tag probabilities: the top tags are each tag's mean, median or max, not a distribution."""
    from genre_core.classifier import Prediction

    rng = np.random.default_rng(3)
    tags = rng.uniform(0.0, 0.6, size=(10, 50))
    tags[4, 7] = 0.95  # one window hears tag 7 strongly
    prediction = Prediction(
        labels=("a", "b"),
        window_probs=np.full((10, 2), 0.5),
        starts_s=np.zeros(10),
        ends_s=np.ones(10),
        duration_s=30.0,
        sample_rate=22050,
        strategy="spread",
        padded=False,
        tag_probs=tags,
        tag_labels=tuple(f"t{i}" for i in range(50)),
    )
    expected = {"mean": tags.mean(axis=0), "median": np.median(tags, axis=0), "max": tags.max(axis=0)}[method]
    top = prediction.top_tags(50, method)
    assert {t: p for t, p in top} == pytest.approx({f"t{i}": float(v) for i, v in enumerate(expected)})
    assert sum(p for _, p in top) > 1.5  # fifty independent probabilities: far from summing to 1
    if method == "max":
        assert top[0] == ("t7", pytest.approx(0.95))
