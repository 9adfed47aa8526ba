"""The Streamlit app through AppTest: upload, re-aggregate without re-running, errors, pages."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from conftest import CLIPS
from corpus import CASES, OK
from genre_core.classifier import GenreClassifier
from genre_core.config import display_genre

APP = str(Path(__file__).resolve().parents[1] / "app.py")


@pytest.fixture
def app() -> AppTest:
    """The app as a fresh server runs it.

    AppTest resets Streamlit's legacy `pages/` mode before every run, so every run here,
    reruns after a widget event included, starts the way a fresh server's first request
    does: each page must enter through app.py by itself (`pages/ui/entry.py`).
    """
    st.cache_data.clear()
    return AppTest.from_file(APP, default_timeout=120).run()


@pytest.fixture
def predict_calls(monkeypatch) -> list[str]:
    """Record every model run the app makes."""
    calls: list[str] = []
    original = GenreClassifier.predict

    def counting(self, source, *args, **kwargs):
        if isinstance(source, bytes):  # the app passes uploads as bytes; tests pass paths
            calls.append(kwargs.get("strategy", "spread"))
        return original(self, source, *args, **kwargs)

    monkeypatch.setattr(GenreClassifier, "predict", counting)
    return calls


def upload(app: AppTest, name: str, data: bytes) -> AppTest:
    return app.file_uploader(key="upload").upload(name, data, "application/octet-stream").run()


def top_k_bars(app: AppTest) -> tuple[list[str], list[float]]:
    chart = next(c for c in app.get("plotly_chart") if c.proto.id and "topk" in c.proto.id)
    data = json.loads(chart.proto.spec)["data"][0]
    return data["y"], data["x"]


def shown_error(app: AppTest) -> str:
    """The error text as the user reads it (markdown escapes removed)."""
    assert len(app.error) == 1, [e.value for e in app.error]
    return app.error[0].value.replace("\\", "")


def headline(app: AppTest) -> str:
    return next(s.value for s in app.subheader if s.value.startswith("Predicted genre"))


def other_headline(app: AppTest) -> str:
    return next(s.value for s in app.subheader if s.value.startswith("None of the ten genres"))


def test_header_cards_show_the_shipped_model_facts(app):
    assert not app.exception
    cards = {m.label: m.value for m in app.metric}
    cfg = GenreClassifier.load(device="cpu").config.features
    assert (
        cards["Device"] == "CPU" and cards["Input"] == f"{cfg.n_mels}×{cfg.window_frames}" and cards["Windows"] == "10"
    )
    # The shipped default runs through its ONNX export on a CPU, and the card says so.
    device_card = next(m for m in app.metric if m.label == "Device")
    assert device_card.delta.startswith("ONNX Runtime ")
    accuracy = GenreClassifier.load(device="cpu").metrics["test"]["headline"]["accuracy"]
    assert cards["Test accuracy"] == f"{accuracy:.1%}"


def test_upload_shows_genre_top_k_windows_waveform_and_mel(app, predict_calls, classifier):
    upload(app, "jazz.ogg", CLIPS["jazz"].read_bytes())
    assert not app.exception and not app.error
    expected = classifier.predict(CLIPS["jazz"]).top_k(5)
    assert headline(app) == f"Predicted genre: **{display_genre(expected[0][0])}** ({expected[0][1]:.1%})"
    genres, probs = top_k_bars(app)
    assert genres[::-1] == [display_genre(g) for g, _ in expected]  # drawn bottom-up, in display spelling
    assert probs[::-1] == pytest.approx([p for _, p in expected], abs=1e-9)
    windows = next(t.value for t in app.dataframe if "window" in t.value.columns)
    assert len(windows) == 10  # one row per window
    ids = {c.proto.id for c in app.get("plotly_chart")}
    assert any("window_heatmap" in i for i in ids) and any("waveform" in i for i in ids)
    assert any("-mel-" in i or i.endswith("mel") for i in ids)
    assert {b.proto.label for b in app.get("download_button")} == {"Download CSV", "Download JSON"}
    assert predict_calls == ["spread"]


def test_changing_aggregation_and_top_k_reaggregates_without_rerunning_the_model(app, predict_calls, classifier):
    upload(app, "metal.ogg", CLIPS["metal"].read_bytes())
    app.slider(key="top_k").set_value(3).run()
    app.radio(key="aggregate").set_value("max").run()
    expected = classifier.predict(CLIPS["metal"]).top_k(3, "max")
    genres, probs = top_k_bars(app)
    assert genres[::-1] == [display_genre(g) for g, _ in expected]
    assert probs[::-1] == pytest.approx([p for _, p in expected], abs=1e-9)
    assert headline(app).endswith(f"({expected[0][1]:.1%})")
    assert predict_calls == ["spread"], "re-aggregating must not run the model again"
    app.radio(key="strategy").set_value("first30").run()
    assert predict_calls == ["spread", "first30"]  # a new window plan does need the model


@pytest.mark.parametrize(
    "name, data, message",
    [
        ("empty.wav", b"", "empty (0 bytes)"),
        ("notes.mp3", b"Just some text pretending to be an MP3.\n" * 30, "Could not read 'notes.mp3'"),
    ],
)
def test_bad_files_show_the_library_message_and_no_traceback(app, name, data, message):
    upload(app, name, data)
    assert not app.exception
    assert message in shown_error(app)


def test_silence_is_refused_with_a_clear_message(app, tmp_path):
    import numpy as np
    import soundfile as sf

    path = tmp_path / "silence.wav"
    sf.write(path, np.zeros(22050 * 4, np.float32), 22050)
    upload(app, "silence.wav", path.read_bytes())
    assert not app.exception and "silent" in shown_error(app)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_corpus_through_the_app_gives_a_result_or_the_library_message(app, case):
    upload(app, case.filename, case.make())
    assert not app.exception
    if case.outcome == OK:  # a genre, or (noise, clipping) the open-set verdict that it is none of the ten
        shown = [s.value for s in app.subheader]
        assert not app.error and any(
            s.startswith("Predicted genre: **") or s.startswith("None of the ten genres") for s in shown
        )
    else:
        assert case.phrase in shown_error(app)


def test_file_names_are_shown_literally_never_as_markdown_or_html(app):
    name = "![x](http://127.0.0.1:9/pixel.png) <b>bold</b>.mp3"
    upload(app, name, b"not audio")
    raw = app.error[0].value
    assert "![x](" not in raw and "<b>" not in raw  # escaped, so nothing renders
    assert name in shown_error(app)


@pytest.mark.parametrize(
    "page, title",
    [("pages/how_it_works.py", "How it works"), ("pages/model.py", "The models"), ("pages/about.py", "About")],
)
def test_every_page_renders(app, page, title):
    app.switch_page(page).run()
    assert not app.exception and not app.error
    assert app.title[0].value == title


def test_how_it_works_nests_the_aggregations_under_step_5(app):
    from pages.ui.state import AGGREGATION_HELP

    app.switch_page("pages/how_it_works.py").run()
    (steps,) = [m.value for m in app.markdown if "5. **Aggregate.**" in m.value]
    after = steps.split("5. **Aggregate.**", 1)[1]
    assert all(f"\n   - {text}" in after for text in AGGREGATION_HELP.values())


def test_how_it_works_names_the_runtime_in_use(app, classifier):
    app.switch_page("pages/how_it_works.py").run()
    assert classifier.runtime_name.startswith("ONNX Runtime")
    assert any(f"runs on **{classifier.runtime_name}**" in m.value for m in app.markdown)


def test_how_it_works_and_the_model_page_explain_the_outside_families_with_their_figures(app, classifier):
    head = classifier.outside_head
    app.switch_page("pages/how_it_works.py").run()
    (text,) = [m.value for m in app.markdown if "For a song that is none of the ten" in m.value]
    assert "**electronic**, **R&B/soul**, **ambient/new age**" in text and f"**{head.name_threshold:.0%}**" in text
    written = head.info["test"]["library"]["outside_written"]
    assert f"it wrote a family for {written} songs" in text
    app.switch_page("pages/model.py").run()
    assert any(s.value == "Outside the ten: which music it sounds like" for s in app.subheader)
    (table,) = [m.value for m in app.markdown if "| family | split |" in m.value]
    electronic = head.info["cross_validation"]["families"]["electronic"]
    row = f"| electronic | train + valid, out of fold | {electronic['recordings']} | {electronic['flagged']} |"
    assert row in table


def test_model_page_reads_the_checkpoint_metrics(app, classifier):
    app.switch_page("pages/model.py").run()
    head = classifier.metrics["test"]["headline"]
    cards = {m.label: m.value for m in app.metric}
    assert cards["Test macro-F1"] == f"{head['macro_f1']:.3f}"
    assert any("confusion" in c.proto.id for c in app.get("plotly_chart"))
    threshold = classifier.info.calibration["tag_threshold"]["min_probability"]
    assert any(f"at least **{threshold:.2f}**" in m.value for m in app.markdown)  # the tag-writing threshold
    chosen = classifier.info.training["candidate"]  # how it was chosen: the held-out-source table
    assert any(f"| `{chosen}` |" in m.value and "without 4q" in m.value for m in app.markdown)


def test_several_files_give_a_sortable_batch_table_with_downloads(app):
    uploader = app.file_uploader(key="upload")
    for genre in ("blues", "reggae", "pop"):
        uploader.upload(f"{genre}.ogg", CLIPS[genre].read_bytes())
    uploader.upload("broken.mp3", b"not audio")
    uploader.run()
    assert not app.exception
    table = app.dataframe[0].value
    assert list(table["file"]) == ["blues.ogg", "reggae.ogg", "pop.ogg", "broken.mp3"]
    assert table["genre"].iloc[3] == "—" and pd.isna(table["duration"].iloc[3])  # broken.mp3: no result
    (failed,) = [w.value for w in app.warning if "broken" in w.value]
    assert "Could not read" in failed  # its message, in full below the table
    runners_up = table["runners-up"].iloc[0]
    assert runners_up.count("%") == 2 and not runners_up.startswith(table["genre"].iloc[0])  # the next two
    assert {b.proto.label for b in app.get("download_button")} == {"Download CSV", "Download JSON"}


def test_a_microphone_recording_is_classified(app):
    import soundfile as sf

    from corpus import wav

    samples, sr = sf.read(CLIPS["country"], dtype="float32")
    app.audio_input(key="record").upload("recording.wav", wav(samples, sr), "audio/wav").run()
    assert not app.exception and not app.error
    assert headline(app).startswith("Predicted genre: **")


def test_timeline_and_saliency_are_drawn_on_request(app):
    app.session_state["show_timeline"] = True
    upload(app, "hiphop.ogg", CLIPS["hiphop"].read_bytes())
    app.toggle(key="explain").set_value(True).run()
    assert not app.exception and not app.error
    ids = {c.proto.id for c in app.get("plotly_chart")}
    assert any("timeline" in i for i in ids) and any("saliency" in i for i in ids)


def chart_x(app: AppTest, name: str) -> np.ndarray:
    """The x values of a plotly chart's first trace, as the browser receives them (plain or base64-typed)."""
    import base64

    chart = next(c for c in app.get("plotly_chart") if c.proto.id and name in c.proto.id)
    x = json.loads(chart.proto.spec)["data"][0]["x"]
    if isinstance(x, dict):  # plotly's typed-array encoding
        return np.frombuffer(base64.b64decode(x["bdata"]), dtype=np.dtype(x["dtype"]))
    return np.asarray(x, dtype=float)


def test_the_window_slider_and_the_spectrogram_stay_in_step_when_the_window_set_changes(app):
    """Window 5, then *First 30 seconds*: the slider starts again at window 1, the window the spectrogram draws."""
    upload(app, "rock.ogg", CLIPS["rock"].read_bytes())
    (slider,) = [s for s in app.select_slider if s.label == "Window"]
    slider.set_value(4).run()
    spread = GenreClassifier.load(None, device="cpu").predict(CLIPS["rock"], strategy="spread")
    assert chart_x(app, "mel")[0] == pytest.approx(spread.starts_s[4], abs=0.05)
    app.radio(key="strategy").set_value("first30").run()
    assert not app.exception
    (slider,) = [s for s in app.select_slider if s.label == "Window"]
    first30 = GenreClassifier.load(None, device="cpu").predict(CLIPS["rock"], strategy="first30")
    assert slider.value == 0
    assert chart_x(app, "mel")[0] == pytest.approx(first30.starts_s[0], abs=0.05)


def test_the_saliency_question_never_names_a_genre_for_a_song_of_none_of_the_ten(app):
    from conftest import DATA

    upload(app, "electronic.ogg", (DATA / "electronic.ogg").read_bytes())
    label = app.toggle(key="explain").label
    assert label.startswith("Why is ") and "the closest of the ten?" in label


def test_streamlit_config_keeps_xsrf_and_cors_protection_on():
    import tomllib

    config = tomllib.loads((Path(APP).parent / ".streamlit" / "config.toml").read_text())
    server = config["server"]
    assert server["enableXsrfProtection"] is True and server["enableCORS"] is True
    assert 0 < server["maxUploadSize"] <= 200


def test_the_sidebar_switches_between_the_shipped_models(app, predict_calls):
    """Each model classifies with its own input; only the transfer CRNN has MSD tags to show."""
    from genre_core.models.registry import DEFAULT_MODEL, SHIPPED_MODELS

    upload(app, "jazz.ogg", CLIPS["jazz"].read_bytes())
    seen = {}
    for name in [DEFAULT_MODEL] + [n for n in SHIPPED_MODELS if n != DEFAULT_MODEL]:
        app.selectbox(key="model").set_value(name).run()
        assert not app.exception and not app.error
        clf = GenreClassifier.load(name, device="cpu")
        cards = {m.label: m.value for m in app.metric}
        assert cards["Input"] == f"{clf.config.features.n_mels}×{clf.config.features.window_frames}"
        expected = clf.predict(CLIPS["jazz"]).top_k(5)
        assert headline(app) == f"Predicted genre: **{expected[0][0]}** ({expected[0][1]:.1%})"
        tables = [t for t in app.dataframe if "tag" in t.value.columns]
        seen[name] = [list(t.value["tag"]) for t in tables]
    assert seen["musicnn_crnn"] and "jazz" in seen["musicnn_crnn"][0][:3]
    assert seen["crnn"] == []
    assert predict_calls == ["spread", "spread"]  # one model run per model


def test_the_model_page_states_the_rule_its_holdout_table_shows(app, classifier):
    """The shipped design is the best single CRNN held out; every row above it is named as not one."""
    holdout = classifier.info.training["holdout"]
    means = {k: v["scores"]["held_out_mean"]["macro_f1"] for k, v in holdout["candidates"].items()}
    shipped = holdout["scores"]["held_out_mean"]["macro_f1"]
    above = [k for k, v in means.items() if v > shipped]
    descriptions = {k: holdout["candidates"][k]["description"] for k in above}
    # Each design above is the probe (no sequence model) or an average of two networks.
    assert all(d.startswith(("mean of", "logistic regression")) for d in descriptions.values()), descriptions
    app.switch_page("pages/model.py").run()
    (text,) = [m.value for m in app.markdown if "The CRNN design with the best mean" in m.value]
    assert f"`{classifier.info.training['candidate']}`, {shipped:.3f}" in text
    assert all(f"`{k}`" in text for k in above)


def test_against_the_baselines_shows_every_row_once_in_three_decimals(app, classifier):
    """Identical strategies share one row (with the reason), numbers in one format."""
    app.switch_page("pages/model.py").run()
    (table,) = [d for d in app.dataframe if "setting" in d.value.columns]
    frame = table.value
    assert not frame.duplicated(["model", "accuracy", "macro-F1"]).any() or frame["setting"].str.contains(" = ").all()
    models = classifier.metrics["test"]["models"]
    assert len(frame) < sum(len(v) for v in models.values())  # spread and first30 agree on 30-s test clips: merged
    assert any("spread = first30: every test recording is at most 30 s" in c.value for c in app.caption)
    formats = {c: json.loads(table.proto.columns)[c]["type_config"]["format"] for c in ("accuracy", "macro-F1")}
    assert formats == {"accuracy": "%.3f", "macro-F1": "%.3f"}
    (sources,) = [d for d in app.dataframe if "source" in d.value.columns]
    assert list(sources.value.columns) == ["source", "recordings", "accuracy", "macro-F1", "genres"]


def test_hip_hop_is_spelled_one_way_in_the_tags_too(app):
    """The MSD head's own 'Hip-Hop' tag reads 'hip-hop', as the genre does in every chart and table."""
    upload(app, "hiphop.ogg", CLIPS["hiphop"].read_bytes())
    (tags,) = [d.value for d in app.dataframe if "tag" in d.value.columns]
    assert "hip-hop" in list(tags["tag"]) and "Hip-Hop" not in list(tags["tag"])
    shown = [m.value for m in (*app.markdown, *app.caption, *app.warning, *app.subheader)]
    assert not any("Hip-Hop" in text or "hiphop" in text for text in shown)


def test_the_sidebar_model_names_fit_the_sidebar(app):
    """Short names in the picker (a 240-px sidebar holds about 28 characters); the full titles in its help."""
    from genre_core.models.registry import MODEL_TITLES

    picker = app.selectbox(key="model")
    shown = picker.options  # as the browser shows them (format_func applied)
    assert "Transfer CRNN (default)" in shown and all(len(name) <= 28 for name in shown), shown
    assert all(title in picker.help for title in MODEL_TITLES.values())


def test_genre_over_time_lists_its_legend_in_the_genres_order():
    from pages.ui.figures import timeline_figure

    prediction = GenreClassifier.load(None, device="cpu").predict(CLIPS["rock"], strategy="timeline", hop_s=1.0)
    figure = timeline_figure(prediction)
    assert [t.name for t in figure.data] == [display_genre(g) for g in prediction.labels]
    assert figure.layout.legend.traceorder == "normal"  # stacked areas would list them rock → blues


def test_model_page_compares_both_shipped_models_on_one_test_split(app):
    app.switch_page("pages/model.py").run()
    assert not app.exception and not app.error
    ids = {c.proto.id for c in app.get("plotly_chart")}
    assert any("accuracy_speed" in i for i in ids)
    comparison = app.dataframe[0].value
    # Short names, so every column fits at 1280 px (the display check in tests/test_display.py).
    assert {"fast CRNN", "from-scratch CRNN", "transfer CRNN (default)"} <= set(comparison["model"])
    assert comparison["runs on"].str.startswith("ONNX Runtime").sum() >= 2  # both shipped models, timed on it
    assert comparison["ms/song"].notna().all()


def test_a_song_of_none_of_the_ten_genres_gets_a_notice_above_the_closest_genres(app):
    """The open-set verdict: a clear notice, the chart titled as the closest genres, the tags as a hint."""
    from conftest import DATA

    upload(app, "electronic.ogg", (DATA / "electronic.ogg").read_bytes())
    assert not app.exception and not app.error
    prediction = GenreClassifier.load(None, device="cpu").predict(DATA / "electronic.ogg")
    outside = prediction.outside
    assert prediction.is_other and outside["genre"] == "electronic"  # 4Q: AllMusic "Electronic"
    assert other_headline(app) == f"None of the ten genres: sounds like **electronic** ({outside['probability']:.0%})"
    assert not any(s.value.startswith("Predicted genre") for s in app.subheader)
    (notice,) = [w.value for w in app.warning if "does not sound like any of the ten genres" in w.value]
    assert f"{outside['probability']:.0%} is the probability that it is electronic music if it is none of" in notice
    assert not any("Ambiguous" in w.value for w in app.warning)  # never both "none of them" and "two of them"
    chart = next(c for c in app.get("plotly_chart") if c.proto.id and "topk" in c.proto.id)
    assert "Closest of the ten" in json.loads(chart.proto.spec)["layout"]["title"]["text"]


def test_a_song_of_none_of_the_ten_with_no_likely_family_keeps_the_tags_hint(app):
    """other.ogg (4Q, Electronic; New Age): its family is under the measured cut, so the notice names none and
    falls back to what the pretrained tags hear."""
    from conftest import DATA

    prediction = GenreClassifier.load(None, device="cpu").predict(DATA / "other.ogg")
    assert prediction.is_other and prediction.outside is None
    upload(app, "other.ogg", (DATA / "other.ogg").read_bytes())
    assert other_headline(app) == "None of the ten genres"
    (notice,) = [w.value for w in app.warning if "does not sound like any of the ten genres" in w.value]
    assert "tags hear **electronic" in notice


def test_a_song_of_the_ten_shows_the_open_set_check_it_passed(app):
    upload(app, "jazz.ogg", CLIPS["jazz"].read_bytes())
    assert headline(app).startswith("Predicted genre")
    assert any(c.value.startswith("Open-set check:") for c in app.caption)


def test_when_the_chart_is_surer_than_the_open_set_check_the_page_says_both_in_one_sentence(app):
    """P(other) passes the rule but pop is surer and past the write cut: the genre stands, no notice."""
    from conftest import DATA

    upload(app, "pop_or_other.ogg", (DATA / "pop_or_other.ogg").read_bytes())
    assert not app.exception and not app.error
    assert headline(app).startswith("Predicted genre: **pop**")
    assert not any("does not sound like any of the ten genres" in w.value for w in app.warning)
    (caption,) = [c.value for c in app.caption if c.value.startswith("Open-set check:")]
    assert "over this model's rule of 31%" in caption and "but pop is surer (80%" in caption, caption


def test_the_batch_table_has_a_verdict_column(app):
    from conftest import DATA

    uploader = app.file_uploader(key="upload")
    uploader.upload("electronic.ogg", (DATA / "electronic.ogg").read_bytes())
    uploader.upload("other.ogg", (DATA / "other.ogg").read_bytes())
    uploader.upload("jazz.ogg", CLIPS["jazz"].read_bytes())
    uploader.upload("broken.mp3", b"not audio")
    uploader.run()
    assert not app.exception
    verdicts = list(app.dataframe[0].value["verdict"])
    assert verdicts[0].startswith("none of the ten: electronic (")
    assert verdicts[1:3] == ["none of the ten", "one of the ten"]
    assert verdicts[3] == "—"  # no verdict for a file that could not be read
    (table,) = app.dataframe
    assert table.proto.placeholder == "—"  # its empty duration and probability read as a dash, not "None"
    (failed,) = [w.value.replace("\\", "") for w in app.warning if "broken" in w.value]
    assert failed.startswith("- **broken.mp3**: Could not read 'broken.mp3' as audio.")  # in full, with its file


def test_the_mood_card_shows_the_words_and_the_valence_arousal_plane(app):
    from genre_core.config import MOOD_LABELS

    upload(app, "metal.ogg", CLIPS["metal"].read_bytes())
    assert not app.exception
    (card,) = [m for m in app.metric if m.label == "Mood"]
    assert card.value in MOOD_LABELS.values()
    plane = next(c for c in app.get("plotly_chart") if c.proto.id and "mood_plane" in c.proto.id)
    spec = json.loads(plane.proto.spec)
    (point,) = spec["data"]
    assert 0 <= point["x"][0] <= 1 and 0 <= point["y"][0] <= 1
    assert {a["text"] for a in spec["layout"]["annotations"]} == set(MOOD_LABELS.values())


def test_the_fast_model_says_it_has_no_mood(app):
    app.selectbox(key="model").set_value("crnn").run()
    upload(app, "metal.ogg", CLIPS["metal"].read_bytes())
    assert not app.exception and not [m for m in app.metric if m.label == "Mood"]
    assert any("no mood head" in c.value for c in app.caption)


def test_every_chart_follows_the_streamlit_theme(app):
    """No chart opts out of the theme (theme=None drew a white box with plotly's own colours in the dark app)."""
    upload(app, "jazz.ogg", CLIPS["jazz"].read_bytes())
    app.toggle(key="explain").set_value(True).run()
    charts = list(app.get("plotly_chart"))
    assert len(charts) >= 6 and all(c.proto.theme == "streamlit" for c in charts), [c.proto.id for c in charts]


def test_the_model_page_answers_its_two_questions_and_shows_no_none(app):
    app.switch_page("pages/model.py").run()
    assert not app.exception
    infos = " ".join(i.value for i in app.info) + " ".join(w.value for w in app.warning)
    assert "Why is the linear probe" in infos and "held-out" in infos
    assert "calibration made the expected calibration error worse" in infos
    for frame in app.dataframe:
        values = frame.value.astype(str).to_numpy().ravel().tolist() + [str(i) for i in frame.value.index]
        assert "None" not in values and "hiphop" not in values
