"""Window plans for short and long songs, and log-mel parity with librosa and with the torch front end it replaced."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import CLIPS, requires_torch
from genre_core.audio import load_audio
from genre_core.config import FeatureConfig
from genre_core.errors import AudioTooShortError
from genre_core.features import LogMel, librosa_reference
from genre_core.models.registry import SHIPPED_MODELS
from genre_core.models.serving import open_served
from genre_core.windows import plan_windows

CFG = FeatureConfig()


def test_window_geometry_is_the_design_card():
    assert CFG.window_samples == 66150
    assert CFG.window_frames == 130


def test_first30_tiles_the_first_thirty_seconds():
    plan = plan_windows(240.0, CFG, "first30")
    np.testing.assert_allclose(plan.starts_s, np.arange(10) * 3.0)
    assert not plan.padded


def test_spread_covers_a_long_song_but_skips_its_edges():
    plan = plan_windows(240.0, CFG, "spread")
    assert len(plan.starts_s) == 10
    assert plan.starts_s[0] == pytest.approx(10.0)  # 5 % of 240 s, capped at 10 s
    assert plan.ends_s[-1] == pytest.approx(230.0)
    assert np.all(np.diff(plan.starts_s) > 3.0)  # no overlap in a long song


def test_short_song_gets_overlapping_windows_inside_it():
    plan = plan_windows(12.0, CFG, "spread")
    assert plan.starts_s[0] == 0 and plan.ends_s[-1] == pytest.approx(12.0)
    assert np.all(np.diff(plan.starts_s) < 3.0)


def test_clip_shorter_than_a_window_is_padded_and_says_so():
    plan = plan_windows(2.2, CFG, "spread")
    assert plan.padded and np.all(plan.starts_s == 0)


def test_too_short_is_an_error():
    with pytest.raises(AudioTooShortError, match="0.30 s"):
        plan_windows(0.3, CFG)


def test_unknown_strategy_is_rejected():
    with pytest.raises(ValueError, match="strategy"):
        plan_windows(100.0, CFG, "middle")


def shipped_features(model: str) -> FeatureConfig:
    """A shipped model's front-end settings, read from its sidecar (no torch)."""
    served, problem = open_served(SHIPPED_MODELS[model])
    assert served is not None, problem
    return served.info.config.features


def real_windows(cfg: FeatureConfig, genres: tuple[str, ...] = ("disco", "classical", "metal")) -> np.ndarray:
    """Two windows (start and end) of each clip, at the model's rate."""
    out = []
    for genre in genres:
        y = load_audio(CLIPS[genre], cfg.sample_rate)
        out += [y[: cfg.window_samples], y[-cfg.window_samples :]]
    return np.stack(out)


def test_logmel_matches_librosa_on_real_audio():
    librosa = pytest.importorskip("librosa", reason="librosa is the reference here; the serve install has none")
    windows = real_windows(CFG)
    ours = LogMel(CFG)(windows)
    reference = np.stack([librosa_reference(w.astype(np.float64), CFG) for w in windows])
    assert ours.shape == reference.shape == (6, 128, 130)
    assert np.abs(ours - reference).max() < 1e-4  # dB, on every bin down to the -80 dB floor
    musicnn = shipped_features("musicnn_crnn")
    windows = real_windows(musicnn)
    mel = librosa.feature.melspectrogram(
        y=windows.astype(np.float64),
        sr=musicnn.sample_rate,
        n_fft=musicnn.n_fft,
        hop_length=musicnn.hop_length,
        n_mels=musicnn.n_mels,
    )
    reference = np.log10(1 + musicnn.log_gain * mel)[..., : musicnn.window_frames]
    assert np.abs(LogMel(musicnn)(windows) - reference).max() < 1e-4


@requires_torch
@pytest.mark.parametrize("model", sorted(SHIPPED_MODELS))
def test_numpy_logmel_equals_the_torch_logmel_it_replaced(model):
    """Issue 28: the serving front end is numpy; the torch STFT that served before stays the yardstick.

    Where the two differ by more than 1e-4 it is below -60 dB, in torch's float32 FFT rounding: the
    numpy path (float64) is the one that equals librosa there (the test above).
    """
    from torch_logmel import TorchLogMel

    cfg = shipped_features(model)
    windows = real_windows(cfg, ("blues", "classical", "hiphop", "jazz", "metal", "pop"))
    ours, before = LogMel(cfg)(windows), TorchLogMel(cfg)(windows).numpy()
    assert ours.shape == before.shape and ours.dtype == before.dtype == np.float32
    gap = np.abs(ours - before)
    if cfg.compression == "db":
        assert gap[before > -60].max() < 1e-4 and gap.max() < 1e-3
    else:
        assert gap.max() < 1e-4


def test_batched_logmel_equals_one_at_a_time():
    y = load_audio(CLIPS["metal"])
    batch = np.stack([y[:66150], y[22050 : 22050 + 66150]])
    logmel = LogMel(CFG)
    together = logmel(batch)
    apart = np.stack([logmel(batch[0]), logmel(batch[1])])
    np.testing.assert_allclose(together, apart, atol=1e-4, rtol=0)


def test_features_ignore_playback_gain():
    y = load_audio(CLIPS["rock"])[: CFG.window_samples]
    logmel = LogMel(CFG)
    np.testing.assert_allclose(logmel(y), logmel(0.05 * y), atol=1e-3, rtol=0)


def test_features_are_floored_at_top_db_below_the_peak():
    y = load_audio(CLIPS["classical"])[: CFG.window_samples]
    db = LogMel(CFG)(y)
    assert float(db.max()) == 0.0 and float(db.min()) >= -CFG.top_db


def test_short_clips_are_looped_not_zero_padded():
    from genre_core.windows import fit_window

    clip = np.arange(1, 6, dtype=np.float32)
    np.testing.assert_array_equal(fit_window(clip, 12, loop=True), [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2])
    np.testing.assert_array_equal(fit_window(clip, 7), [1, 2, 3, 4, 5, 0, 0])  # reads past a file's end


def test_a_short_real_clip_has_no_silent_tail_for_the_model_to_learn():
    y = load_audio(CLIPS["country"])[: int(2.2 * CFG.sample_rate)]
    from genre_core.windows import fit_window

    db = LogMel(CFG)(fit_window(y, CFG.window_samples, loop=True))
    tail = db[:, -20:]  # the last 0.46 s of the window
    assert tail.max() > -40  # music, not the -80 dB floor of digital silence


@pytest.mark.parametrize(
    "sr, n_fft, n_mels, fmin, fmax",
    [(22050, 2048, 128, 0.0, None), (16000, 512, 96, 0.0, None), (44100, 1024, 64, 50.0, 8000.0)],
)
def test_mel_filters_equal_librosas(sr, n_fft, n_mels, fmin, fmax):
    librosa = pytest.importorskip("librosa", reason="librosa is the reference here; the serve install has none")

    from genre_core.features import mel_filters

    ours = mel_filters(sr, n_fft, n_mels, fmin, fmax)
    theirs = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax)
    assert ours.shape == theirs.shape
    np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-8)
