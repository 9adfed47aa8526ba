"""Dashboard: upload songs (or record one), see genre, top-K, windows, waveform, mel, why."""

from __future__ import annotations

import streamlit as st

from genre_core import GenreCoreError, Prediction
from genre_core.classifier import TAGS_SOURCE
from genre_core.config import display_genre, display_tag
from genre_core.export import error_record, results_csv, results_json
from pages.ui import figures, state, tables
from pages.ui.entry import through_app

through_app()

MAX_UPLOAD_MB = st.get_option("server.maxUploadSize")
INPUT_CAPTIONS = {
    "db": "dB below the window's loudest bin, floored at −80 dB (black: the floor, silence). "
    "The model sees this, normalised per mel band.",
    "log10_1p": "log10(1 + 10000 · mel power) at 16 kHz, 96 bands, as musicnn was trained "
    "(black: 0, silence). The pretrained front end reads exactly this.",
}

settings = state.settings()
clf = state.current_classifier()
cfg = clf.config.features


def header_cards() -> None:
    cards = st.columns(4)
    cards[0].metric(
        "Device",
        clf.device_label,
        delta=clf.runtime_label,
        delta_color="off",
        delta_arrow="off",
        help="Where the network runs, and what runs it (ONNX Runtime on a CPU when the model's export is current).",
    )
    cards[1].metric("Input", f"{cfg.n_mels}×{cfg.window_frames}", help="mel bands × frames per 3-s window")
    cards[2].metric("Windows", cfg.n_windows, help=f"{cfg.window_seconds:g}-s windows per song")
    headline = state.headline_metrics(clf)
    cards[3].metric(
        "Test accuracy",
        f"{headline['accuracy']:.1%}" if headline else "n/a",
        help="Track-level accuracy of the selected model on the held-out test split (see the Model page).",
    )


def classify(name: str, data: bytes, key: str) -> Prediction | None:
    """Cached prediction, or None after showing the library's message."""
    if len(data) > MAX_UPLOAD_MB * 1024 * 1024:
        st.error(state.escape_markdown(f"'{name}' is {len(data) / 2**20:.0f} MB; the limit is {MAX_UPLOAD_MB} MB."))
        return None
    try:
        with st.spinner("Decoding and classifying…"):
            return state.analyse(key, settings.strategy, data, name, model=settings.model)
    except GenreCoreError as exc:
        st.error(state.escape_markdown(str(exc)))
    except Exception:  # the UI must never show a traceback; the library's typed errors are above
        st.error(state.escape_markdown(f"Something unexpected went wrong reading '{name}'. Try another file."))
    return None


def other_headline(pred: Prediction) -> str:
    """'None of the ten genres', and the family it sounds like where the outside head names one."""
    if pred.outside is None:
        return "None of the ten genres"
    outside = pred.outside
    return f"None of the ten genres: sounds like **{display_genre(outside['genre'])}** ({outside['probability']:.0%})"


def show_other_notice(pred: Prediction) -> None:
    """Above the chart: the song sounds like none of the ten genres; the family it sounds like, or the tags' hint."""
    if pred.outside is not None:
        family = display_genre(pred.outside["genre"])
        what = (
            f" It sounds like **{family}**: {pred.outside['probability']:.0%} is the probability that it is "
            f"{family} music if it is none of the ten (the outside families, see How it works)."
        )
    else:
        tags = [display_tag(t) for t, _ in pred.top_tags(3)]
        what = f" The pretrained network's tags hear **{', '.join(tags)}** in it: a hint of what it is." if tags else ""
    top_label, top_p = pred.top_k(1, "mean")[0]
    surer = ""
    if clf.genre_cut is not None and top_p >= clf.genre_cut:
        surer = (
            f" Its closest genre of the ten, {display_genre(top_label)} ({top_p:.0%}), is less sure than this "
            "verdict, so the verdict stands."
        )
    st.warning(
        f"This song does not sound like any of the ten genres the model knows "
        f"({pred.other_probability:.0%} likely to be other music; the rule flags at "
        f"{clf.open_set.threshold:.0%}). The chart below shows the closest of the ten, not an answer.{what}{surer}",
        icon=":material/explore:",
    )


def open_set_caption(pred: Prediction) -> str:
    """Below the chart of a song of the ten: the open-set check it passed, in one sentence with the genre."""
    p_other, rule = pred.other_probability, clf.open_set.threshold
    if p_other is not None and rule is not None and p_other >= rule:
        top_label, top_p = pred.top_k(1, "mean")[0]
        return (
            f"Open-set check: {p_other:.0%} likely to be none of the ten genres, over this model's rule of {rule:.0%}, "
            f"but {display_genre(top_label)} is surer ({top_p:.0%}, past the {clf.genre_cut:.0%} at which genres are "
            "written), so the genre stands. See How it works."
        )
    return (
        f"Open-set check: {p_other:.0%} likely to be none of the ten genres, under this model's "
        f"rule of {rule:.0%}. See How it works."
    )


def show_mood(pred: Prediction) -> None:
    """The mood card: the quadrant in words, its probability, and the song on the valence-arousal plane."""
    st.markdown("**Mood** · the emotion quadrant the model hears")
    if pred.mood is None:
        st.caption("This model has no mood head (the fast CRNN has no tag head to read moods from).")
        return
    mood = pred.mood
    words, plane = st.columns([2, 3])
    words.metric("Mood", mood["label"], help="4Q emotion quadrants on Russell's valence-arousal plane")
    words.caption(
        f"{mood['probabilities'][mood['quadrant']]:.0%} likely ({mood['quadrant']}); energetic "
        f"{mood['arousal']:.0%}, positive {mood['valence']:.0%}. Read from the pretrained tags; see How it works."
    )
    plane.plotly_chart(figures.mood_figure(mood), width="stretch", key="mood_plane")


def show_song(name: str, data: bytes) -> None:
    st.audio(data)
    key = state.digest(data)  # hashed once per rerun; every cache below is keyed on it
    pred = classify(name, data, key)
    if pred is None:
        return
    ranked = pred.top_k(settings.top_k, settings.aggregate)
    genre, prob = ranked[0]
    shown = display_genre(genre)
    title, badge = st.columns([4, 1])
    if pred.is_other:
        title.subheader(other_headline(pred))
        badge.badge("other music", icon=":material/explore:", color="violet")
        show_other_notice(pred)
    else:
        title.subheader(f"Predicted genre: **{shown}** ({prob:.1%})")
    if not pred.is_other and state.is_ambiguous(pred, settings.aggregate):
        badge.badge("ambiguous", icon=":material/help:", color="orange")
        second = pred.top_k(2, settings.aggregate)[1]
        st.warning(
            f"Ambiguous: {shown} ({prob:.1%}) and {display_genre(second[0])} ({second[1]:.1%}) are close. "
            "The song may mix styles; the per-window results show where each one comes from."
        )
    if pred.padded:
        seconds = cfg.window_seconds
        st.info(f"The recording is only {pred.duration_s:.1f} s long; it was looped to fill a {seconds:g}-s window.")
    st.caption(
        f"{settings.aggregate.capitalize()} of {len(pred.starts_s)} windows · "
        f"{state.STRATEGY_LABELS[pred.strategy].lower()} · {pred.duration_s:.1f} s of audio · "
        f"probabilities calibrated (temperature {clf.temperature:.2f})"
    )
    chart_title = "Closest of the ten (the song is none of them)" if pred.is_other else None
    st.plotly_chart(figures.top_k_figure(ranked, chart_title), width="stretch", key="topk_chart")
    if pred.other_probability is not None and not pred.is_other:
        st.caption(open_set_caption(pred))
    if pred.tag_probs is not None:
        st.markdown("**Tags** · what the pretrained network hears beyond genre (era, instruments, voice, mood)")
        st.dataframe(
            tables.tags_table(pred, 8, settings.aggregate),
            hide_index=True,
            column_config=tables.probability_column(),
            key="tags_table",
        )
        st.caption(TAGS_SOURCE + ". Each tag is a yes/no guess of its own, so they need not add up to 100 %.")

    show_mood(pred)

    record = pred.to_dict(settings.aggregate, settings.top_k, file=name)
    downloads = st.columns(2)
    stem = name.rsplit(".", 1)[0]
    downloads[0].download_button("Download CSV", results_csv([record]), f"{stem}_genre.csv", "text/csv")
    downloads[1].download_button("Download JSON", results_json([record]), f"{stem}_genre.json", "application/json")

    if settings.show_windows:
        st.subheader("Per window")
        left, right = st.columns([2, 3])
        left.dataframe(
            tables.window_table(pred),
            hide_index=True,
            width="stretch",
            column_config={  # narrow columns: all four fit the half-width column at 1280 px
                "window": st.column_config.NumberColumn("#", width=32),
                "start–end": st.column_config.TextColumn(width="small"),
                "top genre": st.column_config.TextColumn(width="small"),
                "probability": st.column_config.ProgressColumn(
                    format="percent", min_value=0, max_value=1, width="small"
                ),
            },
        )
        right.plotly_chart(figures.window_heatmap(pred), width="stretch", key="window_heatmap")

    if settings.show_timeline:
        st.subheader("Genre over time")
        timeline = state.analyse(key, "timeline", data, name, settings.timeline_hop, settings.model)
        st.plotly_chart(figures.timeline_figure(timeline), width="stretch", key="timeline")
        st.caption(
            f"{len(timeline.starts_s)} windows, one every {settings.timeline_hop:g} s, each classified on its own. "
            "Useful for medleys and songs that change style."
        )

    if settings.show_waveform:
        st.subheader("Waveform")
        try:
            env = state.envelope(key, data, cfg.sample_rate)
            st.plotly_chart(figures.waveform_figure(env, pred), width="stretch", key="waveform")
            note = " (first 20 minutes shown)" if env.truncated else ""
            st.caption(f"Numbered bands: the {len(pred.starts_s)} analysed windows{note}.")
        except GenreCoreError as exc:
            st.warning(state.escape_markdown(f"No waveform preview: {exc}"))

    if settings.show_mel and pred.features is not None:
        st.subheader("Mel spectrogram (the model's own input)")
        index = st.select_slider(
            "Window",
            options=list(range(len(pred.starts_s))),
            format_func=lambda i: f"{i + 1}: {pred.starts_s[i]:.1f}–{pred.ends_s[i]:.1f} s",
            # Keyed to the window set: another song or window strategy starts at window 1, so the slider never
            # shows one window while the spectrogram draws another.
            key=f"mel_window:{key}:{pred.strategy}",
        )
        start = float(pred.starts_s[index])
        st.plotly_chart(figures.mel_figure(pred.features[index], cfg, start), width="stretch", key="mel")
        st.caption(INPUT_CAPTIONS.get(cfg.compression, ""))
        question = f"Why is {shown} the closest of the ten?" if pred.is_other else f"Why {shown}?"
        if st.toggle(f"{question} Show the saliency map", key="explain"):
            saliency = state.saliency(key, settings.strategy, index, genre, pred.features[index], settings.model)
            st.plotly_chart(figures.saliency_figure(saliency, cfg, start), width="stretch", key="saliency")
            st.caption(
                f"Red: regions whose hiding lowers P({shown}) — the sound the model relies on. Blue: regions "
                "that argue against it. Each patch is replaced by the average level of its mel bands "
                "(occlusion), so this is a measured effect, not a guess."
            )


def show_batch(files: list) -> None:
    st.subheader(f"{len(files)} songs")
    progress = st.progress(0.0, text="Classifying…")
    records = []
    for number, upload in enumerate(files, 1):
        data = upload.getvalue()
        try:
            pred = state.analyse(state.digest(data), settings.strategy, data, upload.name, model=settings.model)
            records.append(pred.to_dict(settings.aggregate, max(3, settings.top_k), file=upload.name))
        except GenreCoreError as exc:
            records.append(error_record(upload.name, str(exc)))
        except Exception:  # one bad file never stops the batch
            records.append(error_record(upload.name, "unexpected error while reading this file"))
        progress.progress(number / len(files), text=f"Classified {number} of {len(files)}")
    progress.empty()
    st.dataframe(
        tables.batch_table(records),
        hide_index=True,
        key="batch_table",
        column_config={
            **{name: st.column_config.Column(width=width) for name, width in tables.BATCH_WIDTHS.items()},
            "probability": st.column_config.ProgressColumn(
                format="percent", min_value=0, max_value=1, width=tables.BATCH_WIDTHS["probability"]
            ),
            "duration": st.column_config.NumberColumn(format="%.1f s", width=tables.BATCH_WIDTHS["duration"]),
        },
        placeholder="—",  # a file that could not be read has no duration or probability: a dash, not "None"
    )
    failed = [r for r in records if r["error"]]
    if failed:
        # The table's error column is narrow: every message in full, with its file, below it.
        st.warning(
            "\n".join(f"- **{state.escape_markdown(r['file'])}**: {state.escape_markdown(r['error'])}" for r in failed),
            icon=":material/error:",
        )
    downloads = st.columns(2)
    downloads[0].download_button("Download CSV", results_csv(records), "genres.csv", "text/csv")
    downloads[1].download_button("Download JSON", results_json(records), "genres.json", "application/json")


st.title(":material/graphic_eq: Music genre classifier")
header_cards()
upload_tab, record_tab = st.tabs(["Upload", "Record"])
with upload_tab:
    uploads = st.file_uploader(
        "Upload songs (WAV, MP3, OGG, Opus, FLAC or M4A); several at once for a batch table",
        type=state.UPLOAD_TYPES,
        accept_multiple_files=True,
        key="upload",
    )
with record_tab:
    recording = st.audio_input("Record a clip from your microphone (a few seconds is enough)", key="record")

if uploads and len(uploads) > 1:
    show_batch(uploads)
elif uploads:
    show_song(uploads[0].name, uploads[0].getvalue())
elif recording is not None:
    show_song("recording.wav", recording.getvalue())
else:
    st.info("Choose an audio file to classify, or record one. Only the analysed windows are decoded.")
