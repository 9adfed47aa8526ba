"""The training pipeline on the committed real clips: cache, variants, weight averaging, the loop."""

from __future__ import annotations

import csv
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from conftest import CLIPS
from genre_core.classifier import GenreClassifier
from genre_core.cli.train import parse_factors as _factors
from genre_core.config import GENRES, GenreConfig
from genre_core.models.checkpoint import load_checkpoint
from genre_core.models.families import build_model
from genre_core.training.data import Recording, build_cache, read_manifest
from genre_core.training.runs import summarise, table
from genre_core.training.train import TrainSettings, WeightAverage, train

FIELDS = ("path", "genre", "source", "quality", "split", "group", "duration_s")


def _write_manifest(folder: Path, rows: list[dict[str, str]]) -> Path:
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    return manifest


@pytest.fixture(scope="module")
def tiny_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Train on the first 3.5 s of each real clip, validate on the rest (other groups)."""
    folder = tmp_path_factory.mktemp("tiny")
    rows = []
    for genre, clip in CLIPS.items():
        y, sr = sf.read(clip, dtype="float32")
        cut = int(3.5 * sr)
        for split, part in (("train", y[:cut]), ("valid", y[cut:])):
            name = f"{genre}_{split}.wav"
            sf.write(folder / name, part, sr)
            rows.append(
                {
                    "path": name,
                    "genre": genre,
                    "source": "gtzan",
                    "quality": "original",
                    "split": split,
                    "group": f"{genre}-{split}",
                    "duration_s": f"{part.size / sr:.3f}",
                }
            )
    return _write_manifest(folder, rows)


def test_a_group_on_both_sides_of_a_split_is_refused(tmp_path: Path) -> None:
    row = {"genre": "rock", "source": "gtzan", "quality": "original", "group": "same-artist", "duration_s": "30"}
    manifest = _write_manifest(
        tmp_path, [row | {"path": "a.ogg", "split": "train"}, row | {"path": "b.ogg", "split": "test"}]
    )
    with pytest.raises(ValueError, match="same-artist"):
        read_manifest(manifest, GENRES)


def test_time_stretch_changes_tempo_and_vari_speed_changes_both(tmp_path: Path) -> None:
    cfg = GenreConfig().features
    recs = [Recording(CLIPS["jazz"], "jazz", "gtzan", "original", "train", "jazz", 6.0)]
    plain, faster, slower = (
        build_cache(recs, cfg, tmp_path, stretch=f, workers=1)[0].astype(np.float32) for f in (1.0, 1.25, 0.8)
    )
    assert faster.shape[1] == pytest.approx(plain.shape[1] / 1.25, abs=2)
    assert slower.shape[1] == pytest.approx(plain.shape[1] / 0.8, abs=2)
    # Time-stretch keeps the pitch: the average spectrum barely moves. Vari-speed shifts it.
    sped = build_cache(recs, cfg, tmp_path, speed=1.25, workers=1)[0].astype(np.float32)
    profile = plain.mean(axis=1)
    assert np.abs(faster.mean(axis=1) - profile).mean() < np.abs(sped.mean(axis=1) - profile).mean()
    # Cached: a second call reads the same arrays back instead of recomputing them.
    files = sorted(tmp_path.glob("*.npy"))
    assert len(files) == 4
    again = build_cache(recs, cfg, tmp_path, stretch=1.25, workers=1)[0]
    assert np.array_equal(again, faster.astype(np.float16))
    assert sorted(tmp_path.glob("*.npy")) == files


def test_weight_average_moves_towards_the_live_weights_and_copies_counters() -> None:
    torch.manual_seed(0)
    live = build_model(GenreConfig())
    average = WeightAverage(live, decay=0.9)
    before = {k: v.clone() for k, v in average.model.state_dict().items()}
    with torch.no_grad():
        for p in live.parameters():
            p.add_(1.0)
        counters = [v for v in live.state_dict().values() if not v.dtype.is_floating_point]
        assert counters  # BatchNorm's num_batches_tracked
        for counter in counters:
            counter.fill_(7)
    average.update(live)
    after = average.model.state_dict()
    for name, p in live.named_parameters():
        assert torch.allclose(after[name], 0.9 * before[name] + 0.1 * p.detach(), atol=1e-6), name
    for name, value in live.state_dict().items():
        if not value.dtype.is_floating_point:
            assert torch.equal(after[name], value), name
    assert not any(p.requires_grad for p in average.model.parameters())


def test_training_loop_learns_saves_and_the_checkpoint_classifies(tmp_path: Path, tiny_manifest: Path) -> None:
    settings = replace(
        TrainSettings(),
        epochs=6,
        crops_per_genre=16,
        batch_size=32,
        max_minutes=5,
        speed_factors=(),
        stretch_factors=(1.1,),
        mixup_alpha=0.0,
        ema_decay=0.8,
        track_raw=True,
        threads=1,
    )
    out = tmp_path / "tiny.pt"
    summary = train(tiny_manifest, out, GenreConfig(), settings, cache_dir=tmp_path / "cache", device="cpu")
    history = summary["history"]
    assert summary["epochs_run"] == len(history) == 6
    assert history[-1]["loss"] < history[0]["loss"]  # the optimiser makes progress on the training crops
    assert {"raw_valid_macro_f1", "valid_macro_f1"} <= set(history[0])
    best = max(h["valid_macro_f1"] for h in history)
    assert summary["best_valid_macro_f1"] == pytest.approx(best)
    assert summary["settings"]["stretch_factors"] == [1.1]
    assert out.with_suffix(".log").read_text().count('"epoch"') == 6

    row = summarise(out)
    assert row["best_f1"] == pytest.approx(best)
    assert row["last_f1"] == pytest.approx(np.mean([h["valid_macro_f1"] for h in history[-5:]]))
    assert row["raw_best_f1"] == pytest.approx(max(h["raw_valid_macro_f1"] for h in history))
    assert table([out]).splitlines()[2].startswith("| tiny | 472,186 | 6 |")

    checkpoint = load_checkpoint(out)
    assert checkpoint.training["best_epoch"] == summary["best_epoch"]
    classifier = GenreClassifier.load(out, device="cpu")
    probs = classifier.predict(CLIPS["metal"]).aggregate("mean")
    assert probs.shape == (len(GENRES),)
    assert np.isclose(probs.sum(), 1.0, atol=1e-5)


def test_factor_lists_parse_for_the_train_command() -> None:
    assert _factors(None) is None
    assert _factors("none") == ()
    assert _factors("0.94,1.06") == (0.94, 1.06)
