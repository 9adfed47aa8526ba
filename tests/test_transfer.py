"""The transfer CRNN: musicnn's own input, the fast front end, exact gain, tags, and a real training run."""

from __future__ import annotations

import json
from pathlib import Path

import librosa
import numpy as np
import pytest
import torch
from test_training import tiny_manifest  # noqa: F401  (the module-scoped fixture of real clips)

from conftest import CLIPS
from genre_core.classifier import TAGS_SOURCE, GenreClassifier
from genre_core.config import GenreConfig, musicnn_features
from genre_core.features import LogMel
from genre_core.models.checkpoint import Checkpoint, load_checkpoint
from genre_core.models.musicnn import MSD_TAGS
from genre_core.training.frontend_cache import apply_gain
from genre_core.training.transfer import TransferSettings, new_model, train_transfer, transfer_config


@pytest.fixture(scope="module")
def transfer() -> GenreClassifier:
    """An untrained head on the real pretrained weights: enough to test the path, not the genres."""
    config = transfer_config()
    return GenreClassifier(Checkpoint(new_model(config).eval(), config), device="cpu")


def test_features_match_musicnns_own_preprocessing() -> None:
    """Our 16-kHz logC input equals musicnn's `batch_data` (librosa, float32) away from the window's edges."""
    cfg = musicnn_features()
    audio, _ = librosa.load(CLIPS["rock"], sr=cfg.sample_rate, duration=cfg.window_seconds)
    ours = LogMel(cfg)(audio[None])[0]
    mel = librosa.feature.melspectrogram(y=audio, sr=16000, hop_length=256, n_fft=512, n_mels=96)
    theirs = np.log10(10000 * mel + 1)[:, :187]
    assert ours.shape == (96, 187)
    np.testing.assert_allclose(ours[:, 2:-2], theirs[:, 2:-2], rtol=1e-3, atol=1e-3)


def test_fast_front_end_computes_the_same_function(transfer: GenreClassifier) -> None:
    features = torch.from_numpy(transfer.extract(CLIPS["metal"], "spread")[2])
    plain = transfer.checkpoint.model  # the plain module the fast copy was made from
    with torch.inference_mode():
        slow, fast = plain(features), transfer.model(features)
        slow_front, fast_front = plain.musicnn.frontend(features), transfer.model.musicnn.frontend(features)
    assert torch.allclose(slow_front, fast_front, atol=1e-4 * float(slow_front.abs().max()))
    assert torch.allclose(slow, fast, atol=1e-4)


def test_gain_on_features_equals_gain_on_audio() -> None:
    cfg = musicnn_features()
    logmel = LogMel(cfg)
    audio = librosa.load(CLIPS["pop"], sr=cfg.sample_rate, duration=3.0)[0]
    quiet = torch.from_numpy(logmel(audio[None]))
    for gain_db in (-6.0, 4.5):
        loud = torch.from_numpy(logmel((audio * 10 ** (gain_db / 20))[None]))
        moved = apply_gain(quiet, torch.tensor([gain_db]))
        assert torch.allclose(moved, loud, atol=1e-3), gain_db
        assert not torch.allclose(quiet, loud, atol=1e-2)  # logC is not gain-free: the augmentation matters


def test_prediction_carries_labelled_msd_tags(transfer: GenreClassifier) -> None:
    pred = transfer.predict(CLIPS["classical"])
    assert pred.tag_probs.shape == (len(pred.starts_s), 50)
    tags = pred.top_tags(5)
    assert [t for t, _ in tags][0] in MSD_TAGS and all(0 <= p <= 1 for _, p in tags)
    assert tags == sorted(tags, key=lambda t: -t[1])
    record = pred.to_dict(k=5)
    assert record["tags"]["source"] == TAGS_SOURCE
    assert [t["tag"] for t in record["tags"]["top"]] == [t for t, _ in tags]
    json.dumps(record)


def test_pretrained_tags_recognise_real_genres(transfer: GenreClassifier) -> None:
    """Before any training on our data, the MSD head already hears jazz and classical in the real clips."""
    assert "jazz" in [t for t, _ in transfer.predict(CLIPS["jazz"]).top_tags(3)]
    classical = [t for t, _ in transfer.predict(CLIPS["classical"]).top_tags(5)]
    assert {"instrumental", "ambient", "beautiful", "Mellow", "chillout", "easy listening"} & set(classical)


def test_the_from_scratch_model_has_no_tags() -> None:
    pred = GenreClassifier.load("crnn", device="cpu").predict(CLIPS["rock"])
    assert pred.tag_probs is None and pred.top_tags() == [] and pred.to_dict()["tags"] is None


def test_transfer_training_learns_and_round_trips(tiny_manifest: Path, tmp_path: Path) -> None:  # noqa: F811
    """Two short epochs on the real clips: the loss falls, and the checkpoint reloads and classifies."""
    out = tmp_path / "transfer.pt"
    settings = TransferSettings(epochs=4, windows_per_genre=16, batch_size=16, train_hop_s=1.0)
    summary = train_transfer(tiny_manifest, out, transfer_config(), settings, cache_dir=tmp_path / "cache")
    losses = [row["loss"] for row in summary["history"]]
    assert losses[-1] < losses[0]
    assert summary["training_windows"] >= len(CLIPS)
    checkpoint = load_checkpoint(out)
    assert checkpoint.config.model.family == "musicnn_crnn"
    assert checkpoint.config.features == musicnn_features()
    assert float(checkpoint.model.band_mean.abs().sum()) > 0  # the saliency map's neutral input was measured
    pred = GenreClassifier(checkpoint, device="cpu").predict(CLIPS["reggae"])
    assert pred.window_probs.shape[1] == len(GenreConfig().labels)
    np.testing.assert_allclose(pred.window_probs.sum(axis=1), 1.0, rtol=1e-5)


def test_bench_profiles_the_front_end_and_every_conv_formulation(transfer: GenreClassifier) -> None:
    """The benchmark's breakdown runs on real audio; the figures themselves are printed by `bench`, not asserted."""
    from genre_core.bench.stages import model_profile, strided_gemm, timbral_conv_variants

    profile = model_profile(transfer, CLIPS["disco"], runs=1)
    assert {"whole front end", "whole model + tags", "timbral 7x38"} <= set(profile)
    variants = timbral_conv_variants(transfer, CLIPS["disco"], runs=1)
    assert set(variants) == {"timbral 7x38", "timbral 7x67"}
    for row in variants.values():
        assert {"fp32_ms", "channels_last_ms", "strided_gemm_ms", "int8_ms"} <= set(row)
        assert 0 < row["int8_max_rel_error"] < 0.05  # int8 is close, not exact
    x, w = torch.randn(2, 1, 20, 96), torch.randn(5, 1, 7, 38)
    expected = torch.nn.functional.conv2d(x, w).permute(0, 2, 3, 1)
    assert torch.allclose(strided_gemm(x, w), expected, atol=1e-4)


def test_shipped_transfer_model_keeps_the_pretrained_front_end_and_tag_network_untouched() -> None:
    """The front end and everything behind the tags are the originals; the mid end is tuned only if the run says so."""
    from genre_core.models.pretrained.convert import load_pretrained

    checkpoint = load_checkpoint("musicnn_crnn")
    model, settings = checkpoint.model, checkpoint.training["settings"]
    pretrained = load_pretrained()
    for name, value in model.musicnn_tags.state_dict().items():
        assert torch.equal(value, pretrained[name]), name
    front = {k: v for k, v in model.musicnn.state_dict().items() if k.startswith(("input_bn", "timbral", "temporal"))}
    assert front and all(torch.equal(v, pretrained[k]) for k, v in front.items())
    tuned = model.musicnn.state_dict()
    # The shipped design (chosen by held-out sources) keeps all of musicnn frozen: mid end and back end too.
    assert settings["finetune_midend"] is False
    assert all(torch.equal(tuned[k], pretrained[k]) for k in pretrained if k in tuned)
