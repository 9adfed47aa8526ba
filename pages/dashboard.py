"""Dashboard: upload a song, see its genre, the top-K, windows, waveform and mel."""

from __future__ import annotations

import streamlit as st

from genre_core import GenreCoreError, Prediction
from genre_core.classifier import device_name
from genre_core.export import results_csv, results_json
from pages import common

MAX_UPLOAD_MB = st.get_option("server.maxUploadSize")

settings = common.settings()
clf = common.classifier()
cfg = clf.config.features

st.title(":material/graphic_eq: Music genre classifier")
cards = st.columns(4)
cards[0].metric("Device", device_name(clf.device))
cards[1].metric("Input", f"{cfg.n_mels}×{cfg.window_frames}", help="mel bands × frames per 3-s window")
cards[2].metric("Windows", cfg.n_windows, help=f"{cfg.window_seconds:g}-s windows per song")
headline = common.headline_metrics(clf)
cards[3].metric(
    "Test accuracy",
    f"{headline['accuracy']:.1%}" if headline else "n/a",
    help="Track-level accuracy of the shipped model on the held-out test split (see the Model page).",
)

upload = st.file_uploader("Upload a song (WAV, MP3, OGG, Opus, FLAC or M4A)", type=common.UPLOAD_TYPES, key="upload")
if upload is None:
    st.info("Choose an audio file to classify. Only the analysed windows are decoded, so long songs are fine.")
    st.stop()

data = upload.getvalue()
if len(data) > MAX_UPLOAD_MB * 1024 * 1024:
    st.error(common.escape_markdown(f"'{upload.name}' is {len(data) / 2**20:.0f} MB; the limit is {MAX_UPLOAD_MB} MB."))
    st.stop()

st.audio(data)
key = common.digest(data)
try:
    with st.spinner("Decoding and classifying…"):
        pred: Prediction = common.analyse(key, settings.strategy, data, upload.name)
except GenreCoreError as exc:
    st.error(common.escape_markdown(str(exc)))
    st.stop()
except Exception:  # the UI must never show a traceback; the library's typed errors are above
    st.error(common.escape_markdown(f"Something unexpected went wrong reading '{upload.name}'. Try another file."))
    st.stop()

ranked = pred.top_k(settings.top_k, settings.aggregate)
genre, prob = ranked[0]
st.subheader(f"Predicted genre: **{genre}** ({prob:.1%})")
if pred.padded:
    st.info(
        f"The recording is only {pred.duration_s:.1f} s long; it was padded to one {cfg.window_seconds:g}-s window."
    )
full = pred.top_k(2, settings.aggregate)
if len(full) > 1 and full[0][1] - full[1][1] < common.AMBIGUOUS_MARGIN:
    st.warning(
        f"Ambiguous: {full[0][0]} ({full[0][1]:.1%}) and {full[1][0]} ({full[1][1]:.1%}) are close. "
        "The song may mix styles; the per-window results show where each one comes from."
    )
st.caption(
    f"{settings.aggregate.capitalize()} of {len(pred.starts_s)} windows · "
    f"{common.STRATEGY_LABELS[pred.strategy].lower()} · {pred.duration_s:.1f} s of audio"
)
st.plotly_chart(common.top_k_figure(ranked), width="stretch", key="topk_chart")

record = pred.to_dict(settings.aggregate, settings.top_k, file=upload.name)
downloads = st.columns(2)
stem = upload.name.rsplit(".", 1)[0]
downloads[0].download_button("Download CSV", results_csv([record]), f"{stem}_genre.csv", "text/csv")
downloads[1].download_button("Download JSON", results_json([record]), f"{stem}_genre.json", "application/json")

if settings.show_windows:
    st.subheader("Per window")
    left, right = st.columns([2, 3])
    left.dataframe(
        common.window_table(pred),
        hide_index=True,
        column_config={"probability": st.column_config.ProgressColumn(format="percent", min_value=0, max_value=1)},
    )
    right.plotly_chart(common.window_heatmap(pred), width="stretch", key="window_heatmap")

if settings.show_waveform:
    st.subheader("Waveform")
    try:
        env = common.envelope(key, data)
        st.plotly_chart(common.waveform_figure(env, pred), width="stretch", key="waveform")
        note = " (first 20 minutes shown)" if env.truncated else ""
        st.caption(f"Shaded: the analysed windows{note}.")
    except GenreCoreError as exc:
        st.warning(common.escape_markdown(f"No waveform preview: {exc}"))

if settings.show_mel and pred.features is not None:
    st.subheader("Log-mel spectrogram (model input)")
    index = st.select_slider(
        "Window",
        options=list(range(len(pred.starts_s))),
        format_func=lambda i: f"{i + 1}: {pred.starts_s[i]:.1f}–{pred.ends_s[i]:.1f} s",
        key="mel_window",
    )
    st.plotly_chart(
        common.mel_figure(pred.features[index], cfg, float(pred.starts_s[index])), width="stretch", key="mel"
    )
    st.caption("dB below the window's loudest bin; the model sees this, normalised per mel band.")
