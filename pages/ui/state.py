"""Session state and caching: the sidebar's settings, the loaded models, per-upload results.

Everything computed here comes from genre_core; this module only keeps it per
process (models) or per upload (predictions), keyed so that no model's result is
ever shown for another.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import streamlit as st

from genre_core import GenreClassifier, Prediction
from genre_core.explain import occlusion_saliency
from genre_core.models.registry import DEFAULT_MODEL, MODEL_SHORT_TITLES, MODEL_TITLES, SHIPPED_MODELS
from genre_core.preview import Envelope, waveform_envelope

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
    model: str
    aggregate: str
    top_k: int
    strategy: str
    show_windows: bool
    show_waveform: bool
    show_mel: bool
    show_timeline: bool
    timeline_hop: float


def available_models() -> list[str]:
    """Shipped models present on disk, the default first."""
    names = [DEFAULT_MODEL] + [n for n in SHIPPED_MODELS if n != DEFAULT_MODEL]
    return [n for n in names if SHIPPED_MODELS[n].is_file()]


def sidebar() -> Settings:
    """Draw the shared sidebar; its values persist across pages in session state."""
    with st.sidebar:
        st.header("Settings")
        models = available_models() or [DEFAULT_MODEL]
        model = st.selectbox(
            "Model",
            models,
            format_func=lambda n: MODEL_SHORT_TITLES.get(n, n) + (" (default)" if n == DEFAULT_MODEL else ""),
            key="model",
            help="; ".join(f"**{MODEL_SHORT_TITLES.get(n, n)}**: {MODEL_TITLES.get(n, n)}" for n in models)
            + ". The default is the shipped model with the better valid macro-F1. The Model page compares them.",
        )
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
        show_mel = st.toggle("Model input (spectrogram)", True, key="show_mel")
        show_timeline = st.toggle("Genre over time", False, key="show_timeline")
        hop = st.slider("Timeline hop (s)", 1.0, 15.0, 3.0, 0.5, key="timeline_hop", disabled=not show_timeline)
    return Settings(model, method, k, strategy, show_windows, show_waveform, show_mel, show_timeline, hop)


def settings() -> Settings:
    """The sidebar values, as the entry script stored them on this run."""
    return st.session_state["settings"]


@st.cache_resource(show_spinner="Loading the model…")
def classifier(model: str = DEFAULT_MODEL) -> GenreClassifier:
    """One classifier per shipped model and process, shared by every session (predict is stateless)."""
    return GenreClassifier.load(model)


def current_classifier() -> GenreClassifier:
    """The model the sidebar selects."""
    return classifier(settings().model)


_MARKDOWN_SPECIALS = "\\`*_{}[]()<>#+-.!|~$:"


def escape_markdown(text: str) -> str:
    """Show user-supplied text (file names) literally: no links, images or HTML."""
    return "".join("\\" + ch if ch in _MARKDOWN_SPECIALS else ch for ch in text)


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@st.cache_data(max_entries=32, show_spinner=False)
def analyse(
    content_hash: str, strategy: str, _data: bytes, name: str, hop_s: float = 3.0, model: str = DEFAULT_MODEL
) -> Prediction:
    """Run a model once per (file content, window strategy, model); re-aggregating is free."""
    keep = strategy != "timeline"  # a long timeline's spectrograms are not drawn; do not cache them
    return classifier(model).predict(_data, strategy=strategy, keep_features=keep, name=name, hop_s=hop_s)


@st.cache_data(max_entries=64, show_spinner="Measuring which regions matter…")
def saliency(
    content_hash: str, strategy: str, window: int, genre: str, _features: np.ndarray, model: str = DEFAULT_MODEL
) -> np.ndarray:
    return occlusion_saliency(classifier(model), _features, genre)


def is_ambiguous(pred: Prediction, method: str) -> bool:
    """Top two genres within AMBIGUOUS_MARGIN of each other."""
    top = pred.top_k(2, method)
    return len(top) > 1 and top[0][1] - top[1][1] < AMBIGUOUS_MARGIN


@st.cache_data(max_entries=32, show_spinner=False)
def envelope(content_hash: str, _data: bytes, sample_rate: int) -> Envelope:
    from genre_core.config import FeatureConfig

    return waveform_envelope(_data, FeatureConfig(sample_rate=sample_rate))


def headline_metrics(clf: GenreClassifier) -> dict[str, Any] | None:
    """A model's test-split headline, if its checkpoint records one."""
    return clf.metrics.get("test", {}).get("headline")
