"""Figures draw each model's own input honestly: the floor (silence) is the darkest colour."""

from __future__ import annotations

import numpy as np
import pytest

from genre_core.config import FeatureConfig, musicnn_features
from genre_core.features import LogMel
from pages.ui import figures


@pytest.mark.parametrize("cfg", [FeatureConfig(), musicnn_features()], ids=["db", "log10_1p"])
def test_spectrogram_floor_is_the_darkest_colour_and_named_in_the_hover(cfg: FeatureConfig) -> None:
    sr = cfg.sample_rate
    t = np.arange(cfg.window_samples) / sr
    tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    tone[: sr // 2] = 0.0  # half a second of digital silence: the floor
    features = LogMel(cfg)(tone[None])[0].numpy()
    heatmap = figures.mel_figure(features, cfg).data[0]
    floor = LogMel(cfg).floor()
    assert features.min() == pytest.approx(floor, abs=1e-6)  # silence sits exactly on the floor
    assert heatmap.zmin == pytest.approx(floor) and heatmap.zmax == pytest.approx(features.max())
    stops = [colour for _, colour in heatmap.colorscale]
    assert luminance(stops[0]) < 0.05 and luminance(stops[0]) == min(map(luminance, stops))  # zmin is darkest
    assert "floor" in heatmap.hovertemplate


def luminance(hex_colour: str) -> float:
    r, g, b = (int(hex_colour.lstrip("#")[i : i + 2], 16) / 255 for i in (0, 2, 4))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b
