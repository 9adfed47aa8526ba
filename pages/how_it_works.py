"""How it works: the pipeline step by step, with the loaded model's real numbers."""

from __future__ import annotations

import numpy as np
import streamlit as st

from genre_core.features import LogMel
from genre_core.model import count_parameters
from pages import common

clf = common.classifier()
cfg = clf.config.features
model_cfg = clf.config.model

st.title("How it works")
st.markdown(
    f"""
Every song goes through the same five steps — in this app, in the command line and in training.

1. **Decode.** The file (WAV, FLAC, OGG, Opus, MP3 or M4A) is read, mixed to mono and resampled to
   **{cfg.sample_rate} Hz**. Only the parts that will be analysed are decoded, so a long recording costs
   no more than a short one.
2. **Windows.** **{cfg.n_windows} windows of {cfg.window_seconds:g} s** ({cfg.window_samples} samples) are
   chosen: *spread* evenly over the song (skipping a little of the intro and fade-out), or the *first 30 s*.
   Songs shorter than 30 s get overlapping windows; clips shorter than {cfg.window_seconds:g} s are looped
   to fill one window; under {cfg.min_seconds:g} s, or silent, they are refused.
3. **Log-mel spectrogram.** Each window becomes a picture of **{cfg.n_mels} mel bands ×
   {cfg.window_frames} frames** (FFT size {cfg.n_fft}, hop {cfg.hop_length}), in dB below the window's
   loudest point, floored at −{cfg.top_db:g} dB. Volume therefore does not matter, only the sound's shape.
4. **CRNN.** {len(model_cfg.conv_channels)} convolution blocks ({", ".join(map(str, model_cfg.conv_channels))}
   channels) read timbre and texture; a **{model_cfg.gru_layers}-layer bidirectional GRU**
   ({model_cfg.gru_hidden} units each way) reads how that texture changes over the
   window — rhythm, phrasing; the GRU's outputs are pooled over all time steps (mean and max) and a final
   layer gives a probability for each of the {len(clf.labels)} genres.
   {count_parameters(clf.checkpoint.model):,} parameters in all.
5. **Aggregate.** The {cfg.n_windows} window predictions are combined into one answer:
"""
)
for text in common.AGGREGATION_HELP.values():
    st.markdown(f"- {text}")
st.markdown("Median and max are rescaled so the genres' probabilities add up to 100 %, like the mean's.")

st.subheader("What the model sees")
st.caption("A synthetic example: a bass line, a chord and a hi-hat pattern for one window.")
t = np.arange(cfg.window_samples) / cfg.sample_rate
beat = (np.sin(2 * np.pi * 2 * t) > 0.95).astype(np.float32)
example = (
    0.4 * np.sin(2 * np.pi * 110 * t) * (1 + np.sign(np.sin(2 * np.pi * 1 * t))) / 2
    + 0.2 * sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0))
    + 0.3 * beat * np.random.default_rng(0).standard_normal(t.size)
).astype(np.float32)
features = LogMel(cfg)(example).numpy()
st.plotly_chart(common.mel_figure(features, cfg), width="stretch", key="example_mel")
