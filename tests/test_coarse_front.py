"""The coarse front end (musicnn on pairs of mel bands): what it computes, what it costs, how it is fitted."""

from __future__ import annotations

import copy
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
import torch.nn.functional as F
from test_training import _write_manifest

from conftest import CLIPS
from genre_core.classifier import GenreClassifier
from genre_core.models.checkpoint import load_checkpoint
from genre_core.models.coarse_musicnn import CoarseMusicnn, front_end_macs, summed_rows


@pytest.fixture(scope="module")
def shipped():
    return load_checkpoint("musicnn_crnn").model.eval()


def test_summed_kernels_on_band_pairs_give_the_original_convolution_at_every_other_band(shipped) -> None:
    """Where each pair of bands holds one value, conv(averaged pairs, summed rows) is the original conv at
    even bands: the approximation is exact there, and only the input's detail within a pair is lost."""
    rng = np.random.default_rng(0)
    pairs = torch.from_numpy(rng.standard_normal((2, 1, 40, 48)).astype(np.float32))
    x = pairs.repeat_interleave(2, dim=3)  # (batch, 1, time, 96), bands 2j and 2j+1 equal
    for block in shipped.musicnn.timbral:
        weight = block.conv.weight.detach()
        original = F.conv2d(x, weight)[..., ::2]
        coarse = F.conv2d(F.avg_pool2d(x, (1, 2)), summed_rows(weight))
        n = min(original.shape[-1], coarse.shape[-1])
        torch.testing.assert_close(coarse[..., :n], original[..., :n], rtol=1e-4, atol=1e-4)


def test_the_coarse_front_end_costs_under_a_third_and_its_inference_form_computes_the_same(shipped) -> None:
    coarse = copy.deepcopy(shipped)
    coarse.musicnn = CoarseMusicnn.from_musicnn(shipped.musicnn)
    frames = 187
    assert front_end_macs(coarse.musicnn, frames) < 0.3 * front_end_macs(shipped.musicnn, frames)
    clf = GenreClassifier.load("musicnn_crnn", device="cpu", runtime="torch")
    features = torch.from_numpy(clf.extract(str(CLIPS["jazz"]), "spread")[2])
    fast = coarse.for_inference()
    with torch.inference_mode():
        trained_form, tags = coarse.forward_with_tags(features)
        inference_form, fast_tags = fast.forward_with_tags(features)
    torch.testing.assert_close(inference_form, trained_form, rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(fast_tags, tags, rtol=1e-3, atol=1e-4)
    assert fast.tags_share_backbone  # the mid and back end are the pretrained ones: tags still come with genres


def test_fitting_lowers_the_error_against_the_shipped_front_end_and_the_bench_loads_it(tmp_path: Path) -> None:
    from genre_core.bench.coarse import coarse_network
    from genre_core.training.coarse_front import CoarseSettings, train_coarse_front

    rows = []
    for genre, clip in list(CLIPS.items())[:4]:
        y, sr = sf.read(clip, dtype="float32")
        for split, part in (("train", y[: int(4.5 * sr)]), ("valid", y[int(3 * sr) :])):
            sf.write(tmp_path / f"{genre}_{split}.wav", part, sr)
            row = {"path": f"{genre}_{split}.wav", "genre": genre, "source": "gtzan", "quality": "original"}
            rows.append({**row, "split": split, "group": f"{genre}-{split}", "duration_s": f"{part.size / sr:.3f}"})
    manifest = _write_manifest(tmp_path, rows)
    settings = CoarseSettings(windows=64, valid_recordings=4, epochs=4, batch_size=8, learning_rate=1e-5)
    out = tmp_path / "coarse.pt"
    result = train_coarse_front(manifest, out, settings=settings, cache_dir=tmp_path / "cache")
    errors = [h["valid_loss"] for h in result["history"]]
    assert len(errors) == settings.epochs + 1 and errors[-1] < errors[0]
    shipped, coarse = coarse_network("musicnn_crnn", out)
    fitted = torch.load(out, weights_only=True)["front_end"]
    torch.testing.assert_close(coarse.musicnn.temporal[0].bias.flatten(), fitted["temporal.0.conv.bias"])
