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
    features = LogMel(cfg)(tone[None])[0]
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


def _label_boxes(rows: list[dict]) -> tuple[list, list]:
    """The label and point boxes of the accuracy-vs-speed figure, in plot pixels, as drawn."""
    fig = figures.accuracy_speed_figure(rows)
    width, height = figures.SPEED_FIGURE_SIZE
    m = figures.SPEED_MARGIN
    plot_w, plot_h = width - m["l"] - m["r"], height - m["t"] - m["b"]
    (x0, x1), (y0, y1) = fig.layout.xaxis.range, fig.layout.yaxis.range
    labels, points = [], []
    for note in fig.layout.annotations:
        px, py = (note.x - x0) / (x1 - x0) * plot_w, (note.y - y0) / (y1 - y0) * plot_h
        offset = (note.ax, -note.ay) if note.showarrow else (note.xshift or 0.0, note.yshift or 0.0)
        labels.append(figures.label_box((px, py), offset, note.text))
        r = figures.MARKER_PX
        points.append(figures.Box(px - r, px + r, py - r, py + r))
    return labels, points


@pytest.mark.parametrize(
    "rows",
    [
        # Today's Model page: the default, the fast model, the probe and MFCC, two of them nearly on top of each other.
        [
            {"model": "a", "label": "transfer CRNN (default)", "accuracy": 0.760, "ms": 150.0},
            {"model": "b", "label": "fast CRNN", "accuracy": 0.70, "ms": 45.0},
            {"model": "c", "label": "musicnn probe", "accuracy": 0.765, "ms": 140.0},
            {"model": "d", "label": "MFCC + LR", "accuracy": 0.55, "ms": 60.0},
        ],
        # Crowded: six models within 3 points and 30 ms.
        [
            {"model": str(i), "label": f"model number {i}", "accuracy": 0.70 + 0.006 * i, "ms": 100.0 + 6 * i}
            for i in range(6)
        ],
    ],
    ids=["model_page", "crowded"],
)
def test_accuracy_speed_labels_never_cover_each_other_or_a_point(rows) -> None:
    labels, points = _label_boxes(rows)
    assert [n.text for n in figures.accuracy_speed_figure(rows).layout.annotations] == [r["label"] for r in rows]
    for i, box in enumerate(labels):
        assert not any(box.overlaps(other) for j, other in enumerate(labels) if j != i)
        assert not any(box.overlaps(point) for point in points)


def test_plotly_default_text_labels_would_overlap_on_the_same_rows() -> None:
    """The check above can fail: labels centred above each point (plotly's "top center") do collide here."""
    rows = [
        {"label": "transfer CRNN (default)", "accuracy": 0.760, "ms": 150.0},
        {"label": "musicnn probe", "accuracy": 0.765, "ms": 140.0},
    ]
    fig = figures.accuracy_speed_figure([{**r, "model": r["label"]} for r in rows])
    (x0, x1), (y0, y1) = fig.layout.xaxis.range, fig.layout.yaxis.range
    width, height = figures.SPEED_FIGURE_SIZE
    m = figures.SPEED_MARGIN
    above = (0.0, figures.LINE_PX / 2 + figures.MARKER_PX + 2)
    boxes = [
        figures.label_box(
            (
                (r["ms"] - x0) / (x1 - x0) * (width - m["l"] - m["r"]),
                (r["accuracy"] - y0) / (y1 - y0) * (height - m["t"] - m["b"]),
            ),
            above,
            r["label"],
        )
        for r in rows
    ]
    assert boxes[0].overlaps(boxes[1])


# ---- what a user saw (issue 29): axes, colours, windows, names, order ----------------------------


@pytest.mark.parametrize("cfg", [FeatureConfig(), musicnn_features()], ids=["db", "log10_1p"])
def test_spectrogram_axes_keep_room_for_their_labels_and_silence_is_black(cfg: FeatureConfig) -> None:
    features = np.random.default_rng(0).uniform(
        LogMel(cfg).floor(), 0 if cfg.compression == "db" else 5, (cfg.n_mels, 20)
    )
    maps = (figures.mel_figure(features, cfg), figures.saliency_figure(features - features.mean(), cfg, 0.0))
    for fig in maps:
        assert fig.layout.margin.l >= 60  # tick labels are never clipped (test_display checks it in Chromium)
        assert fig.layout.yaxis.title.standoff  # the axis title sits beside the ticks, not over the plot
    # One plot area for both, whatever their colour bars say: margins that no colour bar may grow.
    assert maps[0].layout.margin == maps[1].layout.margin and maps[0].layout.margin.autoexpand is False
    assert maps[0].data[0].colorbar.x == maps[1].data[0].colorbar.x
    heatmap = figures.mel_figure(features, cfg).data[0]
    assert heatmap.colorscale[0][1] == "#000000"  # the floor is black, as the captions say


def test_windows_on_the_waveform_are_ten_separate_numbered_bands() -> None:
    from genre_core.preview import Envelope

    times = np.linspace(0, 30, 600)
    env = Envelope(times_s=times, low=-np.ones(600), high=np.ones(600), duration_s=30.0, truncated=False)
    starts = np.arange(10) * 3.0  # a 30-s song: the windows cover all of it, edge to edge
    pred = type("P", (), {"starts_s": starts, "ends_s": starts + 3.0})()
    fig = figures.waveform_figure(env, pred)
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    assert len(rects) == 10 and all(r.line.width > 0 for r in rects)  # outlined
    assert len({r.fillcolor for r in rects[:2]}) == 2  # neighbours in alternating shades
    assert [a.text for a in fig.layout.annotations] == [str(i) for i in range(1, 11)]


def test_genres_have_one_display_name_and_one_order_in_every_chart() -> None:
    from genre_core.config import GENRES

    labels = GENRES
    pred = type(
        "P",
        (),
        {
            "labels": labels,
            "window_probs": np.full((3, 10), 0.1),
            "starts_s": np.arange(3.0),
            "ends_s": np.arange(3.0) + 3,
        },
    )()
    heatmap = figures.window_heatmap(pred)
    assert list(heatmap.data[0].y) == [g.replace("hiphop", "hip-hop") for g in labels]
    assert heatmap.layout.yaxis.autorange == "reversed"  # blues at the top, as in the tables and the legend
    assert [t.name for t in figures.timeline_figure(pred).data] == list(heatmap.data[0].y)
    assert "hip-hop" in figures.top_k_figure([("hiphop", 0.5)]).data[0].y
    assert list(figures.confusion_figure([[0] * 10] * 10, list(labels)).data[0].x) == list(heatmap.data[0].y)


def test_genre_over_time_draws_every_genre_visibly_on_both_themes() -> None:
    """Each area's colour is of middle lightness: neither near the light theme's white nor the dark theme's black."""
    from genre_core.config import GENRES

    n = len(GENRES)
    pred = type("P", (), {"labels": GENRES, "window_probs": np.full((3, n), 1 / n), "starts_s": np.arange(3.0)})()
    pred.ends_s = pred.starts_s + 3
    fills = [trace.fillcolor for trace in figures.timeline_figure(pred).data]
    assert len(set(fills)) == n
    for fill in fills:
        assert 0.15 < luminance(fill) < 0.7, fill


def test_the_confusion_matrix_has_no_near_white_cell_and_leaves_zeros_empty() -> None:
    """A zero shows the page's own background (either theme); every count is a colour its number contrasts with."""
    from plotly.colors import unlabel_rgb

    from genre_core.config import GENRES

    matrix = np.diag([30] * 10).tolist()
    matrix[0][1] = 1
    heatmap = figures.confusion_figure(matrix, list(GENRES)).data[0]
    z = np.asarray(heatmap.z, dtype=float)
    assert np.isnan(z[2, 3]) and z[0, 1] == 1 and z[0, 0] == 30
    assert heatmap.zmin > 0  # the smallest count is the scale's first stop, not a colour for zero
    for _, colour in heatmap.colorscale:
        r, g, b = (c / 255 for c in unlabel_rgb(colour))
        assert 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.75, colour
    assert heatmap.text[0][1] == 1 and heatmap.text[2][3] == 0  # the hover names every count, zeros too


@pytest.mark.parametrize(("valence", "arousal"), [(0.42, 1.0), (0.9, 0.0), (0.5, 0.5), (0.0, 0.97)])
def test_the_mood_point_never_covers_a_quadrants_name(valence, arousal):
    """Names sit outside the 0-100 % square the point lives in, on the plot's own range."""
    figure = figures.mood_figure({"valence": valence, "arousal": arousal})
    lower, upper = figure.layout.yaxis.range
    for note in figure.layout.annotations:
        assert not 0 <= note.y <= 1 and lower < note.y < upper, note.text
    point = figure.data[0]
    assert 0 <= point.y[0] <= 1 and lower < point.y[0] < upper
