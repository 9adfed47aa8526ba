"""How it works: the pipeline step by step, with the loaded model's real numbers."""

from __future__ import annotations

import numpy as np
import streamlit as st

from genre_core.config import MOOD_LABELS, FeatureConfig, ModelConfig, display_genre
from genre_core.features import LogMel
from pages.ui import figures, state
from pages.ui.entry import through_app

through_app()

clf = state.current_classifier()
cfg = clf.config.features
model_cfg = clf.config.model
n_params = clf.info.n_parameters
teacher = clf.info.training.get("settings", {}).get("teacher")


def learned() -> str:
    """How the small CRNN learned: from the labels alone, or distilled from the transfer CRNN."""
    if teacher:
        return (
            "trained on our data with the transfer CRNN's own window probabilities as soft targets "
            "(distillation: the small network learns what the big one hears)"
        )
    return "trained from scratch on our data"


def crnn_steps(cfg: FeatureConfig, m: ModelConfig) -> str:
    return f"""3. **Log-mel spectrogram.** Each window becomes a picture of **{cfg.n_mels} mel bands ×
   {cfg.window_frames} frames** (FFT size {cfg.n_fft}, hop {cfg.hop_length}), in dB below the window's
   loudest point, floored at −{cfg.top_db:g} dB. Volume therefore does not matter, only the sound's shape.
4. **CRNN.** {len(m.conv_channels)} convolution blocks ({", ".join(map(str, m.conv_channels))}
   channels), {learned()}, read timbre and texture; a **{m.gru_layers}-layer
   bidirectional GRU** ({m.gru_hidden} units each way) reads how that texture changes over the
   window — rhythm, phrasing; the GRU's outputs are pooled over all time steps (mean and max) and a final
   layer gives a probability for each of the {len(clf.labels)} genres. {n_params:,} parameters in all."""


def musicnn_steps(cfg: FeatureConfig, m: ModelConfig) -> str:
    return f"""3. **Mel spectrogram, as musicnn hears it.** Each window becomes **{cfg.n_mels} mel bands ×
   {cfg.window_frames} frames** at {cfg.sample_rate} Hz (FFT size {cfg.n_fft}, hop {cfg.hop_length}),
   compressed as log10(1 + {cfg.log_gain:g}·power): exactly the input the pretrained network was trained on.
4. **Transfer CRNN.** The front and mid end of **MSD_musicnn** (Pons & Serra 2019), pretrained on the
   Million Song Dataset's 50 most used last.fm tags, read each frame: vertical filters spanning 38 and 67
   mel bands catch timbre, horizontal ones of 32–128 frames catch rhythm, and three 1-D layers combine
   them into 753 numbers per frame. Every {m.step_pool} frames are pooled into one step; a
   **bidirectional GRU** ({m.gru_hidden} units each way), trained on our data, reads the steps. Beside it, a
   linear layer on musicnn's own 200-number summary of the window (its pretrained penultimate layer) gives
   the main vote, and the GRU's outputs, pooled over time and weighted {m.sequence_weight:g}, correct it; the
   two are summed into a probability for each of the {len(clf.labels)} genres. The design was chosen by how
   well it did on music from a source left out of training. The pretrained tag head runs on the same
   features, so each song also gets its top MSD tags.
   {n_params:,} parameters in all."""


STEPS = {"crnn": crnn_steps, "musicnn_crnn": musicnn_steps}

st.title("How it works")
#: The three aggregations as bullets nested under step 5 (three-space indent: inside the numbered item).
AGGREGATION_BULLETS = "\n".join(f"   - {text}" for text in state.AGGREGATION_HELP.values())
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
{STEPS[model_cfg.family](cfg, model_cfg)}

   The network runs on **{clf.runtime_name}**: on a CPU, ONNX Runtime runs the checkpoint's ONNX export
   with no PyTorch loaded at all (features in numpy; kept equal to the PyTorch weights within 1e-5 by a test,
   and refused if it was made from other weights); on a GPU, PyTorch runs the checkpoint itself.
5. **Aggregate.** The {cfg.n_windows} window predictions are combined into one answer:
{AGGREGATION_BULLETS}

   Median and max are rescaled so the genres' probabilities add up to 100 %, like the mean's. The MSD tags
   are not: each tag is its own yes/no guess, so it keeps its own mean, median or maximum.
"""
)


def open_set_text() -> str:
    """The open-set rule in plain words, with this model's measured figures."""
    detector = clf.open_set
    if detector is None:
        return "This model has no open-set check: it names one of the ten genres for every song."
    info = detector.info
    reads = {"genres+tags": "its genre probabilities and the pretrained tags", "genres": "its genre probabilities"}
    text = (
        f"Real libraries hold much more than these ten genres. After classifying, the model asks a second "
        f"question: *does this song sound like any of the ten at all?* A small logistic model reads "
        f"{reads.get(info.get('design', ''), 'what the network computed')} for the whole song and gives the "
        f"probability that it is other music (electronic, R&B, Latin, soundtracks…). It learned from "
        f"{info.get('fitted_on', 'the training split')}. At **{detector.threshold:.0%}** or above, the song is "
        "called *none of the ten genres*: the Dashboard says so above the chart, and `write-tags` leaves its "
        "genre alone. The cut was chosen on the validation split so that at most 5 % of songs of the ten "
        "are flagged by mistake. One exception keeps the page from contradicting itself: when the song's top "
        f"genre of the ten reaches {clf.genre_cut:.0%} (the probability at which genres are written into files) "
        "and is surer than the check, the genre stands."
    )
    test = info.get("test")
    if test:
        text += (
            f"\n\nOn the test split (measured once): {test['other_flagged']:.0%} of the "
            f"{test['other_recordings']} other recordings were flagged and {test['ten_genre_flagged']:.1%} of the "
            f"{test['ten_genre_recordings']} songs of the ten; AUROC {test['auroc']:.2f} (1.0 would separate them "
            "perfectly, 0.5 is chance). It misses much of the other music: treat a genre for an unusual song "
            "with care."
        )
    return text


st.subheader("Is it one of the ten genres at all?")
st.markdown(open_set_text())


def outside_family_text() -> str:
    """The families outside the ten in plain words, with this model's measured figures."""
    head = clf.outside_head
    if head is None:
        return "This model names no music outside the ten: it has no tag head to hear it with."
    families = ", ".join(f"**{display_genre(f)}**" for f in head.families)
    cut = head.name_threshold
    text = (
        f"For a song that is none of the ten, the model says what it sounds like where it can: {families}. "
        "The pretrained network tags songs with words such as *electronic*, *dance*, *soul*, *ambient* and "
        "*chillout*, learned from a million songs; for each family the model measures how far that family's "
        "words beat every other genre word for this song, and a small logistic model, fitted on the other music "
        "of our data, turns those margins into a probability: *if the song is none of the ten, how likely is it "
        "electronic?* "
        + (
            f"A family is shown, and written into files, only at **{cut:.0%}** or above: the cut at which, on data "
            "the model did not fit, nine in ten written families were right."
            if cut is not None
            else "No cut reached nine in ten right on held-out data, so no family is shown."
        )
    )
    lib = (head.info.get("test") or {}).get("library")
    if lib:
        text += (
            f"\n\nOn the test split (measured once: {lib['ten_genre_recordings']} songs of the ten, "
            f"{lib['other_recordings']} of other music) it wrote a family for {lib['outside_written']} songs, "
            f"{lib['outside_written_right']} of them right. Most other music gets no family: our examples of "
            "electronic music mostly do not sound electronic to the pretrained tags, so the model is cautious."
        )
    return text


st.subheader("Which music is it, if none of the ten?")
st.markdown(outside_family_text())


def mood_text() -> str:
    """The quadrants in plain words, and the mood head's measured accuracy."""
    quadrants = "; ".join(f"**{q}** {MOOD_LABELS[q]}" for q in MOOD_LABELS)
    text = (
        "Mood is placed on two axes: **valence** (how positive the music feels) and **arousal** (how energetic). "
        f"Their four quarters are the quadrants of the 4Q emotion dataset: {quadrants}. "
    )
    head = clf.mood_head
    if head is None:
        return text + "This model has no mood head: the fast CRNN has no pretrained tags to read moods from."
    test = head.info.get("test", {})
    text += (
        "A small logistic model reads the pretrained network's tags for the whole song (happy, sad, mellow, "
        "chill, party… are among them) and gives each quadrant a probability; arousal is P(Q1) + P(Q2), valence "
        "P(Q1) + P(Q4). It learned from the 4Q recordings' own quadrants (train split)."
    )
    if test:
        text += (
            f" On the {test['recordings']} test recordings (measured once): the quadrant is right "
            f"**{test['accuracy']:.0%}** of the time, energetic-or-calm **{test['arousal_accuracy']:.0%}**, "
            f"positive-or-negative **{test['valence_accuracy']:.0%}**."
        )
    if test.get("written") and head.write_threshold is not None:
        text += (
            f" Moods are written into files only at {head.write_threshold:.0%} or above, where they were right "
            f"{test['written']['precision']:.0%} of the time on test."
        )
    return text


st.subheader("Mood")
st.markdown(mood_text())

st.subheader("What the model sees")
st.caption("A synthetic example: a bass line, a chord and a hi-hat pattern for one window.")
t = np.arange(cfg.window_samples) / cfg.sample_rate
beat = (np.sin(2 * np.pi * 2 * t) > 0.95).astype(np.float32)
example = (
    0.4 * np.sin(2 * np.pi * 110 * t) * (1 + np.sign(np.sin(2 * np.pi * 1 * t))) / 2
    + 0.2 * sum(np.sin(2 * np.pi * f * t) for f in (261.6, 329.6, 392.0))
    + 0.3 * beat * np.random.default_rng(0).standard_normal(t.size)
).astype(np.float32)
features = LogMel(cfg)(example)
st.plotly_chart(figures.mel_figure(features, cfg), width="stretch", key="example_mel")
st.caption("Black is the floor (silence); the brightest colour is the window's loudest bin.")
