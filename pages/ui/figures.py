"""Figures: plotly views of what genre_core computed (the tables are in `tables`). No state, no caching."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative, sequential

from genre_core import Prediction
from genre_core.config import display_genre
from genre_core.features import LogMel
from genre_core.preview import Envelope, frame_times, mel_band_hz


def top_k_figure(ranked: list[tuple[str, float]], title: str | None = None) -> go.Figure:
    """Top-K genres as horizontal bars; `title` e.g. "Closest genres" when the song is none of the ten."""
    genres = [display_genre(g) for g, _ in ranked][::-1]
    probs = [p for _, p in ranked][::-1]
    fig = go.Figure(go.Bar(x=probs, y=genres, orientation="h", text=[f"{p:.1%}" for p in probs], textposition="auto"))
    fig.update_layout(
        xaxis=dict(title="probability", range=[0, 1], tickformat=".0%"),
        height=80 + 36 * len(ranked) + (30 if title else 0),
        margin=dict(l=10, r=10, t=40 if title else 10, b=40),
        title=dict(text=title) if title else None,
    )
    return fig


#: Where each quadrant's name is written: above the plane (energetic) or below it (calm), outside the 0-100 % square
#: where the song's point lies, so the point never covers a name (a song at 100 % arousal sat on "tense / angry").
QUADRANT_CORNERS = {"Q1": (0.75, 1.12), "Q2": (0.25, 1.12), "Q3": (0.25, -0.12), "Q4": (0.75, -0.12)}


def mood_figure(mood: dict[str, Any]) -> go.Figure:
    """The song's point on the valence-arousal plane, with the four quadrants named."""
    from genre_core.config import MOOD_LABELS

    fig = go.Figure()
    for quadrant, (x, y) in QUADRANT_CORNERS.items():
        fig.add_annotation(x=x, y=y, text=MOOD_LABELS[quadrant], showarrow=False, opacity=0.8)
    fig.add_shape(type="line", x0=0.5, x1=0.5, y0=0, y1=1, line=dict(width=1, dash="dot"))
    fig.add_shape(type="line", x0=0, x1=1, y0=0.5, y1=0.5, line=dict(width=1, dash="dot"))
    fig.add_shape(type="rect", x0=0, x1=1, y0=0, y1=1, line=dict(width=1, dash="dot"))
    fig.add_trace(
        go.Scatter(
            x=[mood["valence"]],
            y=[mood["arousal"]],
            mode="markers",
            marker=dict(size=16, symbol="circle"),
            hovertemplate="valence %{x:.0%}<br>arousal %{y:.0%}<extra></extra>",
            name="this song",
        )
    )
    fig.update_layout(
        # A little room past 0 and 100 %, so a point on the edge is drawn whole; past that, the quadrants' names.
        xaxis=dict(title="valence (positive →)", range=[-0.04, 1.04], tickformat=".0%", zeroline=False),
        yaxis=dict(
            title="arousal (energetic →)",
            range=[-0.2, 1.2],
            tickvals=[0, 0.25, 0.5, 0.75, 1],
            tickformat=".0%",
            zeroline=False,
        ),
        height=320,
        margin=dict(l=60, r=10, t=10, b=50),
        showlegend=False,
    )
    return fig


def window_labels(pred: Prediction) -> list[str]:
    """Unique labels: plotly merges equal category names into one column."""
    return [f"{i + 1} · {s:.1f}s" for i, s in enumerate(pred.starts_s)]


def window_heatmap(pred: Prediction) -> go.Figure:
    """Genres top to bottom in the model's (alphabetical) order, as in every table and the timeline legend."""
    fig = go.Figure(
        go.Heatmap(
            z=pred.window_probs.T,
            x=window_labels(pred),
            y=[display_genre(g) for g in pred.labels],
            colorscale="Viridis",
            zmin=0,
            zmax=1,
            hovertemplate="window at %{x}<br>%{y}: %{z:.1%}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis_title="window · start",
        yaxis=dict(autorange="reversed", automargin=True),
        height=360,
        margin=dict(l=10, r=10, t=10, b=40),
    )
    return fig


#: The analysed windows on the waveform: alternating shades, an outline and a number each, so ten separate
#: windows show even where they touch or overlap (a 30-s song is all windows).
WINDOW_SHADES = ("#ff4b6e", "#4b9bff")


def waveform_figure(env: Envelope, pred: Prediction) -> go.Figure:
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=env.times_s, y=env.high, mode="lines", line=dict(width=0.6), name="max"))
    fig.add_trace(go.Scatter(x=env.times_s, y=env.low, mode="lines", line=dict(width=0.6), fill="tonexty", name="min"))
    for i, (start, end) in enumerate(zip(pred.starts_s, pred.ends_s, strict=True)):
        shade = WINDOW_SHADES[i % len(WINDOW_SHADES)]
        # Overlapping windows (short songs) are drawn in two rows so each keeps its own band.
        y0, y1 = (0.0, 0.5) if i % 2 else (0.5, 1.0)
        fig.add_shape(
            type="rect",
            xref="x",
            yref="paper",
            x0=start,
            x1=end,
            y0=y0,
            y1=y1,
            fillcolor=shade,
            opacity=0.16,
            line=dict(color=shade, width=1),
            layer="below",
        )
        fig.add_annotation(
            x=(start + end) / 2, y=y1, yref="paper", text=str(i + 1), showarrow=False, yanchor="top", font=dict(size=10)
        )
    fig.update_layout(
        showlegend=False,
        xaxis_title="time (s)",
        yaxis_title="amplitude",
        height=240,
        margin=dict(l=10, r=10, t=10, b=40),
    )
    return fig


#: Pixels either side of a window map's plot area: the y tick labels (up to "11025") and title on the left, the
#: colour bar with its widest labels on the right.
MAP_MARGIN_LEFT, MAP_MARGIN_RIGHT = 80, 110


def window_map_figure(values: np.ndarray, cfg: Any, start_s: float, hover_value: str, **heatmap: Any) -> go.Figure:
    """A `(n_mels, frames)` map of one window: x in seconds of the song, y as mel-band frequencies."""
    hz = mel_band_hz(cfg)
    fig = go.Figure(
        go.Heatmap(
            z=values,
            x=frame_times(cfg, start_s),
            y=np.arange(cfg.n_mels),
            customdata=np.repeat(hz[:, None], values.shape[1], axis=1),
            hovertemplate="%{x:.2f} s, %{customdata:.0f} Hz: " + hover_value + "<extra></extra>",
            **heatmap,
        )
    )
    ticks = np.linspace(0, cfg.n_mels - 1, 6).astype(int)
    fig.update_layout(
        xaxis=dict(title="time (s)", showgrid=False),
        yaxis=dict(
            title=dict(text="mel band (Hz)", standoff=10),
            tickvals=ticks,
            ticktext=[f"{hz[i]:.0f}" for i in ticks],
            showgrid=False,  # a clear (no-effect) saliency cell would show grid lines through it
        ),
        height=320,
        # Fixed margins, the colour bar inside the right one: a map's plot area is then the same for every
        # colour-bar title and tick width ("dB" beside "ΔP", "-40" beside "+0.012"), so the spectrogram and the
        # saliency map, drawn one above the other, put each second at the same pixel.
        margin=dict(l=MAP_MARGIN_LEFT, r=MAP_MARGIN_RIGHT, t=10, b=50, autoexpand=False),
    )
    fig.update_traces(colorbar=dict(thickness=14, x=1.0, xanchor="left", xpad=12))
    return fig


#: Magma as explicit stops, starting at black: the floor (silence) is black, as the captions say. (plotly.js has
#: no built-in "Magma", so the name alone fell back to another scale whose minimum is lavender.)
FLOOR_BLACK = [[i / (len(sequential.Magma) - 1), c] for i, c in enumerate(["#000000", *sequential.Magma[1:]])]

#: How each feature compression reads in a hover and on the colour bar.
INPUT_UNITS = {"db": ("dB", "%{z:.1f} dB"), "log10_1p": ("log₁₀(1+C·P)", "%{z:.2f}")}


def mel_figure(features: np.ndarray, cfg: Any, start_s: float = 0.0) -> go.Figure:
    """One window of the model's own input, its floor (silence) drawn in the scale's darkest colour.

    As librosa's `specshow`: the colour range runs from the input's floor to the window's
    loudest value, so silence and quiet high bands are black, never the brightest thing.
    """
    floor = LogMel(cfg).floor()
    top = max(float(np.max(features)), floor + 1e-3)
    unit, value = INPUT_UNITS.get(cfg.compression, ("", "%{z:.2f}"))
    return window_map_figure(
        features,
        cfg,
        start_s,
        value + f" (floor, silence: {floor:g})",
        colorscale=FLOOR_BLACK,
        zmin=floor,
        zmax=top,
        colorbar=dict(title=unit),
    )


#: Blue (argues against) through clear (no effect) to red (supports), ends from ColorBrewer's RdBu. RdBu's own
#: centre is near-white: on the dark theme, a window where little matters was a white block. Clear lets the
#: page's background show, so "no effect" looks like nothing on either theme.
SUPPORT_SCALE = [
    [0.0, "rgba(33,102,172,1)"],
    [0.25, "rgba(67,147,195,0.7)"],
    [0.5, "rgba(247,247,247,0)"],
    [0.75, "rgba(214,96,77,0.7)"],
    [1.0, "rgba(178,24,43,1)"],
]


def saliency_figure(saliency_map: np.ndarray, cfg: Any, start_s: float) -> go.Figure:
    """Occlusion saliency, centred on zero: red supports the genre, blue argues against."""
    limit = float(np.abs(saliency_map).max()) or 1.0
    return window_map_figure(
        saliency_map,
        cfg,
        start_s,
        "ΔP %{z:+.2%}",
        colorscale=SUPPORT_SCALE,
        zmin=-limit,
        zmax=limit,
        # In percentage points: a sure song moves P by hundredths of a percent, which plotly's SI ticks wrote "500µ".
        colorbar=dict(title="ΔP", tickformat="+.2~%"),
    )


#: Blues from its middle up: every count is drawn in a colour dark enough for the cell's number to contrast,
#: and no cell is near white (a block of near-white cells glared on the dark theme).
COUNT_BLUES = [[i / (len(sequential.Blues[4:]) - 1), c] for i, c in enumerate(sequential.Blues[4:])]


def confusion_figure(matrix: list[list[int]], labels: list[str]) -> go.Figure:
    """Counts of true against predicted genre; a zero is an empty cell, so the page's own background shows."""
    counts = np.asarray(matrix, dtype=float)
    fig = go.Figure(
        go.Heatmap(
            z=np.where(counts > 0, counts, np.nan),
            x=[display_genre(g) for g in labels],
            y=[display_genre(g) for g in labels],
            colorscale=COUNT_BLUES,
            zmin=0.5,
            text=np.asarray(matrix),
            texttemplate="%{text}",
            hovertemplate="true %{y}, predicted %{x}: %{text}<extra></extra>",
            colorbar=dict(title="songs"),
        )
    )
    fig.update_layout(
        xaxis=dict(title="predicted", showgrid=False),  # no grid lines through the empty (zero) cells
        yaxis=dict(title="true", autorange="reversed", showgrid=False),
        height=460,
        margin=dict(l=10, r=10, t=10, b=40),
    )
    return fig


#: One colour per area, all of middle lightness: the light theme's own palette drew rock in near-white on white.
AREA_COLOURS = qualitative.D3


def timeline_figure(pred: Prediction) -> go.Figure:
    """Stacked probabilities of every genre at each window's centre."""
    centres = (pred.starts_s + pred.ends_s) / 2
    fig = go.Figure()
    for i, genre in enumerate(map(display_genre, pred.labels)):
        colour = AREA_COLOURS[i % len(AREA_COLOURS)]
        fig.add_trace(
            go.Scatter(
                x=centres,
                y=pred.window_probs[:, i],
                name=genre,
                mode="lines",
                stackgroup="genres",
                line=dict(width=0.5, color=colour),
                fillcolor=colour,
                hovertemplate=f"{genre}: %{{y:.1%}} at %{{x:.1f}} s<extra></extra>",
            )
        )
    fig.update_layout(
        xaxis_title="time (s)",
        yaxis=dict(title="probability", range=[0, 1], tickformat=".0%"),
        height=320,
        margin=dict(l=10, r=10, t=10, b=40),
        # Stacked areas list their legend bottom-up by default (rock → blues); the genres' own order everywhere else.
        legend=dict(traceorder="normal"),
    )
    return fig


#: The accuracy-vs-speed figure's fixed size (px), so its labels can be placed where they fit.
SPEED_FIGURE_SIZE = (680, 380)
SPEED_MARGIN = dict(l=60, r=20, t=20, b=50)
CHAR_PX, LINE_PX, MARKER_PX = 7.5, 16.0, 8.0


@dataclass(frozen=True)
class Box:
    """An axis-aligned rectangle in plot pixels (y up)."""

    x0: float
    x1: float
    y0: float
    y1: float

    def overlaps(self, other: Box) -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1

    def inside(self, width: float, height: float) -> bool:
        return self.x0 >= 0 and self.y0 >= 0 and self.x1 <= width and self.y1 <= height


def label_box(point: tuple[float, float], offset: tuple[float, float], text: str) -> Box:
    """The box a label of `text` centred at `point + offset` covers."""
    cx, cy = point[0] + offset[0], point[1] + offset[1]
    half_w, half_h = CHAR_PX * len(text) / 2 + 2, LINE_PX / 2
    return Box(cx - half_w, cx + half_w, cy - half_h, cy + half_h)


def place_labels(points: list[tuple[float, float]], texts: list[str], width: float, height: float) -> list[tuple]:
    """An offset (px, y up) per label such that no label covers another label or any point.

    Greedy, left to right: each label takes the first free spot among eight directions,
    at growing distances (a leader line is drawn when it sits away from its point).
    """
    markers = [Box(x - MARKER_PX, x + MARKER_PX, y - MARKER_PX, y + MARKER_PX) for x, y in points]
    placed: list[Box] = []
    offsets: list[tuple[float, float]] = [(0.0, 0.0)] * len(points)
    directions = [(0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1)]
    for i in sorted(range(len(points)), key=lambda i: points[i]):
        half_w, half_h = CHAR_PX * len(texts[i]) / 2 + 2, LINE_PX / 2
        best = None
        for distance in (1.0, 2.0, 3.0, 4.5, 6.0):
            for dx, dy in directions:
                offset = (dx * (half_w + MARKER_PX + 2), dy * (half_h + MARKER_PX + 2) * distance)
                if dx and not dy:
                    offset = (offset[0] * (1 + (distance - 1) * 0.3), 0.0)
                box = label_box(points[i], offset, texts[i])
                if box.inside(width, height) and not any(box.overlaps(b) for b in placed + markers):
                    best = (offset, box)
                    break
            if best:
                break
        if best is None:  # nowhere free: straight above, the leader line keeps it readable
            best = ((0.0, half_h + MARKER_PX + 2), label_box(points[i], (0.0, half_h + MARKER_PX + 2), texts[i]))
        offsets[i] = best[0]
        placed.append(best[1])
    return offsets


def accuracy_speed_figure(rows: list[dict[str, Any]]) -> go.Figure:
    """Each model as a point: test accuracy against milliseconds per song (lower-right is worse).

    Labels are annotations placed by `place_labels` on a fixed-size figure, so neighbouring
    models' names never cover each other.
    """
    width, height = SPEED_FIGURE_SIZE
    plot_w = width - SPEED_MARGIN["l"] - SPEED_MARGIN["r"]
    plot_h = height - SPEED_MARGIN["t"] - SPEED_MARGIN["b"]
    xs = [float(r["ms"]) for r in rows]
    ys = [float(r["accuracy"]) for r in rows]
    texts = [str(r.get("label", r["model"])) for r in rows]
    x_range = [0.0, max(xs) * 1.35 + 1.0]
    y_range = [max(0.0, min(ys) - 0.08), min(1.0, max(ys) + 0.08)]

    def to_px(x: float, y: float) -> tuple[float, float]:
        return (
            (x - x_range[0]) / (x_range[1] - x_range[0]) * plot_w,
            (y - y_range[0]) / (y_range[1] - y_range[0]) * plot_h,
        )

    points = [to_px(x, y) for x, y in zip(xs, ys, strict=True)]
    offsets = place_labels(points, texts, plot_w, plot_h)
    fig = go.Figure(
        go.Scatter(
            x=xs,
            y=ys,
            mode="markers",
            text=[r["model"] for r in rows],
            marker=dict(size=2 * MARKER_PX - 2),
            hovertemplate="%{text}: %{y:.1%} at %{x:.0f} ms per song<extra></extra>",
        )
    )
    for x, y, text, (dx, dy) in zip(xs, ys, texts, offsets, strict=True):
        near = abs(dy) <= LINE_PX / 2 + MARKER_PX + 2.5 and abs(dx) <= CHAR_PX * len(text) / 2 + MARKER_PX + 4
        fig.add_annotation(x=x, y=y, text=text, ax=dx, ay=-dy, showarrow=not near, arrowwidth=1, standoff=MARKER_PX)
        if near:  # an annotation without an arrow is centred on its point: move it by the offset instead
            fig.layout.annotations[-1].update(xshift=dx, yshift=dy)
    fig.update_layout(
        xaxis=dict(title="ms per song (ten windows, 2 CPU threads)", range=x_range),
        yaxis=dict(title="test accuracy", tickformat=".0%", range=y_range),
        width=width,
        height=height,
        margin=SPEED_MARGIN,
    )
    return fig
