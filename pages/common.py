"""What every page shares: the sidebar settings, the cached model, figures.

The UI stays thin: everything computed here comes from genre_core; this
module only caches it per process (model) or per upload (prediction) and
turns it into plotly figures.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from genre_core import GenreClassifier, Prediction
from genre_core.explain import occlusion_saliency
from genre_core.preview import Envelope, frame_times, mel_band_hz, waveform_envelope

AGGREGATION_HELP = {
    "mean": "Mean: the average belief over all windows. Steady; the default.",
    "median": "Median: each genre's middle window. Ignores a few odd windows.",
    "max": "Max: each genre's strongest window. Shows a style that appears only briefly.",
}
STRATEGY_LABELS = {"spread": "Spread over the whole song", "first30": "First 30 seconds"}
AMBIGUOUS_MARGIN = 0.10
UPLOAD_TYPES = ["wav", "mp3", "ogg", "opus", "flac", "m4a"]


@dataclass(frozen=True)
class Settings:
    aggregate: str
    top_k: int
    strategy: str
    show_windows: bool
    show_waveform: bool
    show_mel: bool
    show_timeline: bool
    timeline_hop: float


def sidebar() -> Settings:
    """Draw the shared sidebar; its values persist across pages in session state."""
    with st.sidebar:
        st.header("Settings")
        method = st.radio(
            "Aggregation",
            list(AGGREGATION_HELP),
            format_func=str.capitalize,
            key="aggregate",
            help="\n\n".join(AGGREGATION_HELP.values()),
        )
        st.caption(AGGREGATION_HELP[method])
        k = st.slider("Top-K genres", 1, 10, 5, key="top_k")
        strategy = st.radio("Windows", list(STRATEGY_LABELS), format_func=STRATEGY_LABELS.get, key="strategy")
        st.divider()
        show_windows = st.toggle("Per-window results", True, key="show_windows")
        show_waveform = st.toggle("Waveform", True, key="show_waveform")
        show_mel = st.toggle("Mel spectrogram", True, key="show_mel")
        show_timeline = st.toggle("Genre over time", False, key="show_timeline")
        hop = st.slider("Timeline hop (s)", 1.0, 15.0, 3.0, 0.5, key="timeline_hop", disabled=not show_timeline)
    return Settings(method, k, strategy, show_windows, show_waveform, show_mel, show_timeline, hop)


def settings() -> Settings:
    """The sidebar values, as the entry script stored them on this run."""
    return st.session_state["settings"]


@st.cache_resource(show_spinner="Loading the model…")
def classifier() -> GenreClassifier:
    """One model per process, shared by every session (predict is stateless)."""
    return GenreClassifier.load()


_MARKDOWN_SPECIALS = "\\`*_{}[]()<>#+-.!|~$:"


def escape_markdown(text: str) -> str:
    """Show user-supplied text (file names) literally: no links, images or HTML."""
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIALS else ch for ch in text)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@st.cache_data(max_entries=32, show_spinner=False)
def analyse(content_hash: str, strategy: str, _data: bytes, name: str, hop_s: float = 3.0) -> Prediction:
    """Run the model once per (file content, window strategy); re-aggregating is free."""
    keep = strategy != "timeline"  # a long timeline's spectrograms are not drawn; do not cache them
    return classifier().predict(_data, strategy=strategy, keep_features=keep, name=name, hop_s=hop_s)


@st.cache_data(max_entries=64, show_spinner="Measuring which regions matter…")
def saliency(content_hash: str, strategy: str, window: int, genre: str, _features: np.ndarray) -> np.ndarray:
    return occlusion_saliency(classifier(), _features, genre)


def is_ambiguous(pred: Prediction, method: str) -> bool:
    """Top two genres within AMBIGUOUS_MARGIN of each other."""
    top = pred.top_k(2, method)
    return len(top) > 1 and top[0][1] - top[1][1] < AMBIGUOUS_MARGIN


@st.cache_data(max_entries=32, show_spinner=False)
def envelope(content_hash: str, _data: bytes) -> Envelope:
    return waveform_envelope(_data, classifier().config.features)


def top_k_figure(ranked: list[tuple[str, float]]) -> go.Figure:
    genres = [g for g, _ in ranked][::-1]
    probs = [p for _, p in ranked][::-1]
    fig = go.Figure(go.Bar(x=probs, y=genres, orientation="h", text=[f"{p:.1%}" for p in probs], textposition="auto"))
    fig.update_layout(
        xaxis=dict(title="probability", range=[0, 1], tickformat=".0%"),
        height=80 + 36 * len(ranked),
        margin=dict(l=10, r=10, t=10, b=40),
    )
    return fig


def probability_column() -> dict[str, Any]:
    """Column config drawing a 'probability' column as a percentage bar."""
    return {"probability": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1)}


def window_table(pred: Prediction) -> pd.DataFrame:
    best = pred.window_probs.argmax(axis=1)
    return pd.DataFrame(
        {
            "window": np.arange(1, len(best) + 1),
            "start–end": [f"{s:.1f}–{e:.1f} s" for s, e in zip(pred.starts_s, pred.ends_s, strict=True)],
            "top genre": [pred.labels[i] for i in best],
            "probability": [float(pred.window_probs[j, i]) for j, i in enumerate(best)],
        }
    )


def window_labels(pred: Prediction) -> list[str]:
    """Unique labels: plotly merges equal category names into one column."""
    return [f"{i + 1} · {s:.1f}s" for i, s in enumerate(pred.starts_s)]


def window_heatmap(pred: Prediction) -> go.Figure:
    fig = go.Figure(
        go.Heatmap(
            z=pred.window_probs.T,
            x=window_labels(pred),
            y=list(pred.labels),
            colorscale="Viridis",
            zmin=0,
            zmax=1,
            hovertemplate="window at %{x}<br>%{y}: %{z:.1%}<extra></extra>",
        )
    )
    fig.update_layout(xaxis_title="window · start", height=360, margin=dict(l=10, r=10, t=10, b=40))
    return fig


def waveform_figure(env: Envelope, pred: Prediction) -> go.Figure:
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=env.times_s, y=env.high, mode="lines", line=dict(width=0.6), name="max"))
    fig.add_trace(go.Scatter(x=env.times_s, y=env.low, mode="lines", line=dict(width=0.6), fill="tonexty", name="min"))
    for start, end in zip(pred.starts_s, pred.ends_s, strict=True):
        fig.add_vrect(x0=start, x1=end, fillcolor="#ff4b6e", opacity=0.18, line_width=0)
    fig.update_layout(
        showlegend=False,
        xaxis_title="time (s)",
        yaxis_title="amplitude",
        height=240,
        margin=dict(l=10, r=10, t=10, b=40),
    )
    return fig


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
        xaxis_title="time (s)",
        yaxis=dict(title="mel band (Hz)", tickvals=ticks, ticktext=[f"{hz[i]:.0f}" for i in ticks]),
        height=320,
        margin=dict(l=10, r=10, t=10, b=40),
    )
    return fig


def mel_figure(features: np.ndarray, cfg: Any, start_s: float = 0.0) -> go.Figure:
    """One window's log-mel in dB."""
    return window_map_figure(features, cfg, start_s, "%{z:.1f} dB", colorscale="Magma", colorbar=dict(title="dB"))


def saliency_figure(saliency_map: np.ndarray, cfg: Any, start_s: float) -> go.Figure:
    """Occlusion saliency, centred on zero: red supports the genre, blue argues against."""
    limit = float(np.abs(saliency_map).max()) or 1.0
    return window_map_figure(
        saliency_map,
        cfg,
        start_s,
        "%{z:+.3f}",
        colorscale="RdBu",
        reversescale=True,
        zmin=-limit,
        zmax=limit,
        colorbar=dict(title="ΔP"),
    )


def confusion_figure(matrix: list[list[int]], labels: list[str]) -> go.Figure:
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=labels,
            y=labels,
            colorscale="Blues",
            text=matrix,
            texttemplate="%{text}",
            hovertemplate="true %{y}, predicted %{x}: %{z}<extra></extra>",
        )
    )
    fig.update_layout(
        xaxis_title="predicted",
        yaxis=dict(title="true", autorange="reversed"),
        height=460,
        margin=dict(l=10, r=10, t=10, b=40),
    )
    return fig


def headline_metrics(clf: GenreClassifier) -> dict[str, Any] | None:
    """The shipped model's test-split headline, if its checkpoint records one."""
    return clf.metrics.get("test", {}).get("headline")


def timeline_figure(pred: Prediction) -> go.Figure:
    """Stacked probabilities of every genre at each window's centre."""
    centres = (pred.starts_s + pred.ends_s) / 2
    fig = go.Figure()
    for i, genre in enumerate(pred.labels):
        fig.add_trace(
            go.Scatter(
                x=centres,
                y=pred.window_probs[:, i],
                name=genre,
                mode="lines",
                stackgroup="genres",
                line=dict(width=0.5),
                hovertemplate=f"{genre}: %{{y:.1%}} at %{{x:.1f}} s<extra></extra>",
            )
        )
    fig.update_layout(
        xaxis_title="time (s)",
        yaxis=dict(title="probability", range=[0, 1], tickformat=".0%"),
        height=320,
        margin=dict(l=10, r=10, t=10, b=40),
    )
    return fig


def batch_table(records: list[dict[str, Any]]) -> pd.DataFrame:
    """One row per file, sortable in the UI: genre, probability, top-3, error."""
    return pd.DataFrame(
        [
            {
                "file": r["file"],
                "genre": r["genre"] or "—",
                "probability": r["probabilities"].get(r["genre"], None) if r["genre"] else None,
                "top 3": ", ".join(f"{t['genre']} {t['probability']:.0%}" for t in r["top_k"][:3]),
                "duration (s)": r["duration_s"],
                "error": r["error"] or "",
            }
            for r in records
        ]
    )
