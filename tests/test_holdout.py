"""Leave-one-source-out validation and recording-style augmentation, on the committed real clips."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from test_training import _write_manifest

from conftest import CLIPS, DATA
from genre_core.audio import open_audio
from genre_core.classifier import GenreClassifier
from genre_core.config import GENRES
from genre_core.models.checkpoint import Checkpoint, load_checkpoint
from genre_core.report import candidates_table
from genre_core.training.bank import build_bank
from genre_core.training.data import read_manifest
from genre_core.training.holdout import Candidate, holdout
from genre_core.training.styles import STYLES, StyleParams, apply, render
from genre_core.training.transfer import (
    TransferSettings,
    fit,
    fit_probe,
    new_model,
    probe_as_linear,
    train_transfer,
    transfer_config,
)

TINY = TransferSettings(epochs=2, windows_per_genre=8, batch_size=16, train_hop_s=1.0, finetune_midend=False)
SOURCES = ("gtzan", "4q")


@pytest.fixture(scope="module")
def sources_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Each clip's first 3.5 s trains and the rest validates; even genres are 'gtzan', odd '4q'; one test row."""
    folder = tmp_path_factory.mktemp("sources")
    rows = []
    for i, (genre, clip) in enumerate(CLIPS.items()):
        y, sr = sf.read(clip, dtype="float32")
        cut = int(3.5 * sr)
        for split, part in (("train", y[:cut]), ("valid", y[cut:]), ("test", y[: 2 * sr])):
            if split == "test" and i:
                continue
            name = f"{genre}_{split}.wav"
            sf.write(folder / name, part, sr)
            rows.append(
                {
                    "path": name,
                    "genre": genre,
                    "source": SOURCES[i % 2],
                    "quality": "original",
                    "split": split,
                    "group": f"{genre}-{split}",
                    "duration_s": f"{part.size / sr:.3f}",
                }
            )
    return _write_manifest(folder, rows)


@pytest.fixture(scope="module")
def extractor() -> GenreClassifier:
    config = transfer_config()
    return GenreClassifier(Checkpoint(new_model(config), config), device="cpu")


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


def test_a_held_out_source_and_the_other_splits_never_train(
    sources_manifest: Path, extractor: GenreClassifier, cache: Path
) -> None:
    recs = read_manifest(sources_manifest, GENRES)
    s = replace(TINY, styles=STYLES)
    bank = build_bank(recs, extractor, s, cache, keep_front=False)
    assert {r.split for r in bank.recs} == {"train", "valid"}  # the test row is not even read
    source = np.asarray([r.source for r in bank.recs])[bank.rec]
    split = np.asarray([r.split for r in bank.recs])[bank.rec]
    everything = bank.training_windows(s)
    without = bank.training_windows(s, without_source="4q")
    assert set(split[everything]) == {"train"} and set(source[everything]) == set(SOURCES)
    assert set(source[without]) == {"gtzan"}
    # Each train recording has one recording-style copy, by rotation; only the asked-for styles train.
    assert set(bank.style) == {"", *STYLES}
    assert set(bank.style[bank.training_windows(replace(s, styles=("eq",)))]) == {"", "eq"}
    assert not bank.scored[bank.style != ""].any()  # copies never count as a recording's score
    # Without the gained windows, what trains is exactly the scored train windows (every other, own level).
    plain = bank.training_windows(replace(s, styles=(), use_gained=False))
    np.testing.assert_array_equal(plain, np.flatnonzero(bank.scored & (split == "train")))


def test_each_source_is_scored_by_runs_that_never_heard_it(sources_manifest: Path, cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "holdout.json"
    probe = Candidate("probe", "probe", kind="probe", settings=TINY)
    crnn = Candidate("frozen", "frozen", settings=TINY)
    both = Candidate("probe+frozen", "mean", kind="average", parts=("probe", "frozen"))
    results = holdout(sources_manifest, [probe, crnn], out, SOURCES, cache_dir=cache)
    results = holdout(sources_manifest, [both], out, SOURCES, cache_dir=cache)  # accumulates in the same file
    assert set(json.loads(out.read_text())) == {"probe", "frozen", "probe+frozen"}

    recs = [r for r in read_manifest(sources_manifest, GENRES) if r.split != "test"]
    for name in ("probe", "frozen", "probe+frozen"):
        scores = results[name]["scores"]
        for source in SOURCES:
            assert scores[source]["n"] == sum(r.source == source for r in recs)  # its train and valid recordings
        assert scores["valid"]["n"] == sum(r.split == "valid" for r in recs)
        mean = np.mean([scores[s]["macro_f1"] for s in SOURCES])
        assert scores["held_out_mean"]["macro_f1"] == pytest.approx(mean)
    # Each source's genres are its own here, so a run without it cannot name them: nothing leaked.
    for source in SOURCES:
        heard = {GENRES.index(r.genre) for r in recs if r.source != source}
        probs = np.asarray(results["probe"]["runs"][source]["probs"])
        assert set(probs.argmax(1)) <= heard
        assert probs[:, sorted(set(range(len(GENRES))) - heard)].max() < 1e-6
    assert len(results["frozen"]["runs"]["4q"]["history"]) == TINY.epochs
    assert len(results["frozen"]["scores"]["held_out_mean_by_epoch"]) == TINY.epochs
    np.testing.assert_allclose(
        results["probe+frozen"]["runs"]["gtzan"]["probs"],
        (np.asarray(results["probe"]["runs"]["gtzan"]["probs"]) + results["frozen"]["runs"]["gtzan"]["probs"]) / 2,
    )
    rendered = candidates_table(results, SOURCES)
    assert rendered.count("\n") == 2 + 2 and "`probe+frozen`" in rendered and "without 4q" in rendered


def test_a_frozen_run_ships_a_checkpoint_with_its_settings(sources_manifest: Path, cache: Path, tmp_path: Path) -> None:
    out = tmp_path / "frozen.pt"
    config = transfer_config(sequence_weight=0.5)
    summary = train_transfer(
        sources_manifest, out, config, replace(TINY, epochs=3), cache, extra_training={"candidate": "x"}
    )
    assert summary["candidate"] == "x" and summary["best_epoch"] == 3  # "last": the held-out rule fixed the epochs
    ckpt = load_checkpoint(out)
    assert ckpt.config.model.sequence_weight == 0.5
    pretrained = new_model(transfer_config())
    for name, value in pretrained.musicnn.state_dict().items():  # a frozen run leaves musicnn as it was
        torch.testing.assert_close(ckpt.model.musicnn.state_dict()[name], value)
    pred = GenreClassifier(ckpt, device="cpu").predict(CLIPS["blues"])
    np.testing.assert_allclose(pred.window_probs.sum(axis=1), 1.0, rtol=1e-5)


def test_the_probe_as_a_summary_path_gives_the_probes_own_probabilities(
    sources_manifest: Path, extractor: GenreClassifier, cache: Path
) -> None:
    bank = build_bank(read_manifest(sources_manifest, GENRES), extractor, TINY, cache, keep_front=False)
    train_idx = bank.training_windows(TINY, without_source="4q")  # five genres unseen
    probe = fit_probe(bank, train_idx, 0.3)
    weight, bias = probe_as_linear(probe, len(GENRES))
    x = bank.penultimate[bank.scored]
    probs = torch.softmax(torch.from_numpy(x) @ weight.T + bias, dim=-1).numpy()
    np.testing.assert_allclose(probs[:, probe.classes_], probe.predict_proba(x), atol=1e-5)
    assert probs[:, [g for g in range(len(GENRES)) if g not in probe.classes_]].max() < 1e-6

    # A run that keeps it frozen ends with exactly that layer, and the GRU path trained beside it.
    model = new_model(transfer_config())
    gru_before = model.gru.weight_ih_l0.detach().clone()
    s = replace(TINY, summary_from_probe=True, freeze_summary=True)
    fit(model, bank, train_idx, s, {})
    torch.testing.assert_close(model.summary_head[-1].weight.detach(), weight)
    torch.testing.assert_close(model.summary_head[-1].bias.detach(), bias)
    assert not torch.equal(model.gru.weight_ih_l0.detach(), gru_before)


def test_sequence_weight_scales_only_the_recurrent_path() -> None:
    torch.manual_seed(0)
    model = new_model(transfer_config(sequence_weight=0.25)).eval()
    steps, penultimate = torch.randn(3, 47, 753), torch.randn(3, 200)
    with torch.no_grad():
        expected = 0.25 * model.sequence_logits(steps) + model.summary_head(penultimate)
        torch.testing.assert_close(model.combine(steps, penultimate), expected)


def _band_level_db(y: np.ndarray, sr: int, lo: float, hi: float) -> float:
    spectrum = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(y.size, 1 / sr)
    return float(10 * np.log10(spectrum[(freqs >= lo) & (freqs < hi)].sum() + 1e-20))


@pytest.fixture(scope="module")
def jazz() -> tuple[np.ndarray, int]:
    y, sr = sf.read(CLIPS["jazz"], dtype="float32")
    return y, sr


def test_band_limit_removes_what_is_above_the_cutoff(jazz: tuple[np.ndarray, int]) -> None:
    y, sr = jazz
    out = apply(y, sr, StyleParams("bandlimit", cutoff_hz=4000.0))
    assert _band_level_db(out, sr, 5000, 8000) < _band_level_db(y, sr, 5000, 8000) - 30
    assert abs(_band_level_db(out, sr, 100, 2000) - _band_level_db(y, sr, 100, 2000)) < 0.5


def test_shelves_move_their_own_band_by_their_gain() -> None:
    sr = 22050
    t = np.arange(2 * sr) / sr
    low, high = 0.3 * np.sin(2 * np.pi * 60 * t), 0.3 * np.sin(2 * np.pi * 9000 * t)
    for kind, tone, other in (("low_shelf_db", low, high), ("high_shelf_db", high, low)):
        params = StyleParams("eq", **{kind: 6.0})
        gain = 20 * np.log10(np.abs(apply(tone, sr, params)[sr:]).max() / np.abs(tone[sr:]).max())
        untouched = 20 * np.log10(np.abs(apply(other, sr, params)[sr:]).max() / np.abs(other[sr:]).max())
        assert gain == pytest.approx(6.0, abs=0.5) and abs(untouched) < 0.5


def test_mp3_copies_are_real_mp3s_at_the_asked_bitrate(jazz: tuple[np.ndarray, int]) -> None:
    y, sr = jazz
    for kbps in (64, 192):
        data = render(y, sr, StyleParams("mp3", kbps=kbps, gain_db=-6.0))
        assert sf.info(io.BytesIO(data)).format == "MP3"
        assert len(data) * 8 / (y.size / sr) / 1000 == pytest.approx(kbps, rel=0.05)
        with open_audio(data, sr) as reader:  # the app's own decoder, back at the clip's rate
            back = reader.read(0.0, reader.duration_s)
        lag = int(np.argmax(np.correlate(back[: sr // 2 + 3000], y[: sr // 2], mode="valid")))
        aligned = back[lag : lag + y.size]
        expected = y[: aligned.size] * 10 ** (-6 / 20)
        snr = 10 * np.log10(np.sum(expected**2) / np.sum((aligned - expected) ** 2))
        assert snr > 10, f"{kbps} kbps copy is not the same music (SNR {snr:.1f} dB)"


def test_a_louder_chain_limits_instead_of_clipping(jazz: tuple[np.ndarray, int]) -> None:
    y, sr = jazz
    loud = apply(y / np.abs(y).max(), sr, StyleParams("eq", gain_db=6.0))
    assert np.abs(loud).max() == pytest.approx(1.0, abs=1e-6)


def test_every_registered_candidate_can_run() -> None:
    """Averages name candidates that exist and are not averages; every CRNN builds its model config."""
    from genre_core.training.holdout import CANDIDATES

    for name, candidate in CANDIDATES.items():
        assert candidate.name == name and candidate.description
        if candidate.kind == "average":
            assert len(candidate.parts) >= 2
            assert all(CANDIDATES[p].kind != "average" for p in candidate.parts)
        else:
            assert candidate.kind in ("crnn", "probe") and not candidate.parts
            assert candidate.config().model.sequence_weight == candidate.sequence_weight
            assert set(candidate.settings.styles) <= set(STYLES)


def test_the_command_refuses_unknown_candidates_in_one_line(capsys, tmp_path: Path) -> None:
    from genre_core.cli import main

    assert main(["holdout", "--candidates", "nope", "--out", str(tmp_path / "h.json")]) == 2
    err = capsys.readouterr().err
    assert "unknown: ['nope']" in err and "Traceback" not in err
    assert main(["holdout", "--table", "--out", str(tmp_path / "missing.json")]) == 2


@pytest.fixture(scope="module")
def manifest_with_other_music(sources_manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`sources_manifest` plus three recordings of none of the ten: two electronic (one per source), one not."""
    import csv

    folder = sources_manifest.parent
    rows = list(csv.DictReader(sources_manifest.open(newline="")))
    clips = DATA / "electronic.ogg", DATA / "other.ogg", DATA / "pop_or_other.ogg"
    for (clip, source, genres), i in zip(
        ((clips[0], "gtzan", "Electronic"), (clips[1], "4q", "Electronic; New Age"), (clips[2], "gtzan", "Vocal")),
        range(3),
        strict=True,
    ):
        y, sr = sf.read(clip, dtype="float32")
        name = f"other_{i}.wav"
        sf.write(folder / name, y, sr)
        rows.append(
            {"path": name, "genre": "other", "source": source, "quality": "original", "split": "train",
             "group": f"other-{i}", "duration_s": f"{y.size / sr:.3f}", "source_genres": genres}
        )  # fmt: skip
    target = tmp_path_factory.mktemp("with_other") / "manifest.csv"
    for row in rows:
        row["path"] = str(folder / row["path"])
    with target.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, [*rows[0].keys(), "source_genres"], extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return target


def test_the_re_deciders_are_fitted_without_the_held_out_source_and_read_the_runs_own_outputs(
    manifest_with_other_music: Path, cache: Path, tmp_path: Path
) -> None:
    from genre_core.training.redecide import redecide_table

    crnn = Candidate("frozen", "frozen", settings=TINY)
    results = holdout(manifest_with_other_music, [crnn], tmp_path / "h.json", SOURCES, cache_dir=cache, redecide=True)
    runs = results["frozen"]["runs"]
    recs = [r for r in read_manifest(manifest_with_other_music, GENRES, include_other=True) if r.split != "test"]
    ten = [r for r in recs if not r.is_other]
    for source in SOURCES:
        redecided = runs[source]["redecide"]
        y = np.asarray([GENRES.index(r.genre) for r in ten if r.source == source])
        assert redecided["n"] == len(y)
        # The network's own decision, read from the same outputs the re-deciders read, is the run's.
        own = np.asarray(runs[source]["probs"]).argmax(1)
        assert redecided["network"]["acc"] == pytest.approx(np.mean(own == y))
        # Fitted without the source: the families are those of the other source's other music only.
        fitted = [r for r in recs if r.is_other and r.source != source]
        assert redecided["families"]["other_music_fitted"] == len(fitted)
        expected = {"gtzan": ["electronic"], "4q": ["electronic", "unknown"]}[source]
        assert redecided["families"]["classes"][len(GENRES) :] == expected
        for decision in ("ten", "families"):
            # Each source's genres are its own here: a re-decider that never heard them cannot name them.
            assert redecided[decision]["acc"] == 0.0
        assert 0.0 <= redecided["families"]["outside_share"] <= 1.0
    assert runs["valid"]["redecide"]["families"]["other_music_fitted"] == 3
    assert runs["valid"]["redecide"]["ten"]["acc"] > 0.0  # fitted on every source, scored on valid
    mean = results["frozen"]["redecide"]["ten"]["macro_f1"]
    assert mean == pytest.approx(np.mean([runs[s]["redecide"]["ten"]["macro_f1"] for s in SOURCES]))
    table = redecide_table("frozen", runs, SOURCES)
    assert table.count("\n") == 3 + len(SOURCES) + 1 + 1 and "gtzan (held out)" in table


def test_re_deciding_refuses_candidates_without_a_cached_mid_end(
    manifest_with_other_music: Path, tmp_path: Path
) -> None:
    from genre_core.errors import UsageError

    with pytest.raises(UsageError, match="frozen-front-end CRNN candidates only"):
        holdout(
            manifest_with_other_music, [Candidate("probe", "probe", kind="probe")], tmp_path / "h.json", redecide=True
        )
