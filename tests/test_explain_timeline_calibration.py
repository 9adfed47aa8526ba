"""Saliency, the whole-song timeline and temperature calibration."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import CLIPS
from corpus import music, wav
from genre_core.config import FeatureConfig
from genre_core.explain import occlude, occlusion_saliency
from genre_core.training.calibrate import expected_calibration_error, fit_temperature, nll, track_probs
from genre_core.windows import MAX_TIMELINE_WINDOWS, plan_windows

CFG = FeatureConfig()


def test_timeline_covers_the_song_every_hop():
    plan = plan_windows(60.0, CFG, "timeline", hop_s=5.0)
    np.testing.assert_allclose(plan.starts_s[:3], [0, 5, 10])
    assert plan.ends_s[-1] == pytest.approx(60.0)


def test_timeline_of_a_long_file_is_bounded():
    plan = plan_windows(4 * 3600.0, CFG, "timeline", hop_s=1.0)
    assert len(plan.starts_s) <= MAX_TIMELINE_WINDOWS + 1
    assert plan.ends_s[-1] == pytest.approx(4 * 3600.0)


def test_timeline_prediction_on_real_music(classifier):
    pred = classifier.predict(wav(music(20.0)), strategy="timeline", hop_s=2.0)
    assert len(pred.starts_s) == 10 and pred.window_probs.shape == (10, 10)  # every 2 s, last one ends at 20 s
    np.testing.assert_allclose(pred.window_probs.sum(axis=1), 1.0, atol=1e-5)


@pytest.fixture(scope="module")
def explained(classifier):
    pred = classifier.predict(CLIPS["metal"], keep_features=True)
    genre = pred.genre()
    return pred, genre, occlusion_saliency(classifier, pred.features[0], genre)


def test_saliency_has_the_input_shape_and_is_deterministic(classifier, explained):
    pred, genre, saliency = explained
    cfg = classifier.config.features
    assert saliency.shape == pred.features[0].shape == (cfg.n_mels, cfg.window_frames)
    again = occlusion_saliency(classifier, pred.features[0], genre)
    np.testing.assert_array_equal(saliency, again)
    assert np.abs(saliency).max() > 0


@pytest.mark.parametrize("genre", ["metal", "classical", "hiphop"])
def test_hiding_the_most_salient_region_hurts_more_than_a_random_one(classifier, genre):
    pred = classifier.predict(CLIPS[genre], keep_features=True)
    target = pred.genre()
    x = pred.features[0]
    saliency = occlusion_saliency(classifier, x, target)
    size = (24, 20)  # not the patch size used to build the map
    band_mean = classifier.info.band_mean
    windows = np.lib.stride_tricks.sliding_window_view(saliency, size).mean(axis=(-2, -1))
    f0, t0 = np.unravel_index(np.argmax(windows), windows.shape)
    rng = np.random.default_rng(0)
    mels, frames = x.shape
    randoms = [(rng.integers(0, mels - size[0]), rng.integers(0, frames - size[1])) for _ in range(20)]
    batch = np.stack([x, occlude(x, band_mean, f0, t0, size)] + [occlude(x, band_mean, f, t, size) for f, t in randoms])
    probs = classifier.predict_features(batch)[:, classifier.labels.index(target)]
    salient_drop = probs[0] - probs[1]
    random_drop = np.mean(probs[0] - probs[2:])
    assert salient_drop > random_drop


def test_ece_by_hand():
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.6, 0.4], [0.3, 0.7]])
    y = np.array([0, 1, 0, 1])
    # confidences 0.9 (right), 0.8 (wrong), 0.6 (right), 0.7 (right), each in its own 0.1-wide bin
    expected = (abs(1 - 0.9) + abs(0 - 0.8) + abs(1 - 0.6) + abs(1 - 0.7)) / 4
    assert expected_calibration_error(probs, y) == pytest.approx(expected)


def test_temperature_fixes_overconfident_logits():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 5, 400)
    logits = []
    for label in y:
        window = torch.from_numpy(rng.normal(0, 1, (3, 5))).float()
        right = rng.random() < 0.6  # 60 % right, but with huge margins: overconfident
        window[:, label if right else (label + 1) % 5] += 8.0
        logits.append(window)
    t = fit_temperature(logits, y)
    assert t > 1.5
    assert nll(track_probs(logits, t), y) < nll(track_probs(logits, 1.0), y)
    assert expected_calibration_error(track_probs(logits, t), y) < expected_calibration_error(
        track_probs(logits, 1.0), y
    )
