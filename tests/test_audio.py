"""Decoding: every format, path and bytes, resampling, mono mix, seeking, errors."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from conftest import CLIPS, FORMATS, encode, tone
from genre_core.audio import load_audio, open_audio
from genre_core.errors import AudioDecodeError

SR = 22050


def dominant_hz(y: np.ndarray, sr: int = SR) -> float:
    spectrum = np.abs(np.fft.rfft(y * np.hanning(y.size)))
    return float(np.fft.rfftfreq(y.size, 1 / sr)[spectrum.argmax()])


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_decodes_to_mono_22050_with_pitch_kept(fmt, write_audio):
    path = write_audio(f"tone.{fmt}", tone(4.0, sr=44100, freq=440.0, channels=2))
    y = load_audio(path)
    assert y.ndim == 1 and y.dtype == np.float32
    assert abs(y.size / SR - 4.0) < 0.1  # codec padding is allowed, lost audio is not
    assert abs(dominant_hz(y[SR // 2 : SR * 3]) - 440.0) < 5.0


@pytest.mark.parametrize("fmt", FORMATS)
def test_bytes_and_path_decode_the_same(fmt, write_audio):
    path = write_audio(f"tone.{fmt}", tone(3.5, sr=44100))
    from_path = load_audio(path)
    from_bytes = load_audio(path.read_bytes())
    np.testing.assert_array_equal(from_path, from_bytes)


def test_stereo_is_mixed_to_mono_by_averaging(tmp_path):
    left = tone(2.0, sr=SR, freq=300.0)
    stereo = np.stack([left, np.zeros_like(left)], axis=1)
    path = tmp_path / "s.wav"
    sf.write(path, stereo, SR, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path), left / 2, atol=1e-6)


@pytest.mark.parametrize("rate", [8000, 16000, 48000, 96000])
def test_resampling_keeps_frequency_and_length(rate, tmp_path):
    path = tmp_path / f"r{rate}.wav"
    sf.write(path, tone(2.0, sr=rate, freq=1000.0), rate)
    y = load_audio(path)
    assert abs(y.size - 2 * SR) <= 2
    assert abs(dominant_hz(y) - 1000.0) < 3.0


def test_seeking_read_equals_slice_of_full_decode():
    full = load_audio(CLIPS["jazz"])
    with open_audio(CLIPS["jazz"]) as reader:
        span = reader.read(2.0, 1.5)
    np.testing.assert_allclose(span, full[2 * SR : int(3.5 * SR)], atol=1e-6)


def test_real_clip_reports_its_duration():
    with open_audio(CLIPS["blues"]) as reader:
        assert reader.duration_s == pytest.approx(6.0, abs=0.01)
        assert reader.native_rate == SR and reader.channels == 1


@pytest.mark.parametrize(
    "payload, words",
    [
        (b"", "empty"),
        (b"This is a plain text file, not a song.\n" * 20, "Could not read"),
        (np.random.default_rng(1).bytes(4096), "Could not read"),
    ],
)
def test_unreadable_input_raises_a_clear_decode_error(payload, words):
    with pytest.raises(AudioDecodeError, match=words):
        load_audio(payload)


def test_text_named_mp3_fails_with_the_file_name(tmp_path):
    bad = tmp_path / "song.mp3"
    bad.write_text("not audio at all")
    with pytest.raises(AudioDecodeError, match="song.mp3"):
        load_audio(bad)


def test_missing_path_is_a_decode_error(tmp_path):
    with pytest.raises(AudioDecodeError, match="does not exist"):
        load_audio(tmp_path / "nope.wav")


def test_nan_and_inf_samples_are_neutralised(tmp_path):
    y = tone(1.0, sr=SR)
    y[100:200] = np.nan
    y[300] = np.inf
    path = tmp_path / "nan.wav"
    sf.write(path, y, SR, subtype="FLOAT")
    assert np.isfinite(load_audio(path)).all()


def test_extension_that_lies_is_read_by_content(tmp_path):
    path = tmp_path / "really_flac.mp3"
    path.write_bytes(encode(tone(2.0, sr=SR), SR, "flac"))
    assert load_audio(path).size == pytest.approx(2 * SR, abs=2)
