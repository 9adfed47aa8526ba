"""Shared fixtures: real GTZAN clips, synthesised sounds in every format, models."""

from __future__ import annotations

import io
import shutil
from collections.abc import Callable
from pathlib import Path

import mutagen
import numpy as np
import pytest
import soundfile as sf
from mutagen.flac import Picture
from mutagen.id3 import APIC, COMM, ID3, TALB, TCON, TDRC, TIT2, TPE1, TRCK, TXXX
from mutagen.mp4 import MP4Cover

from genre_core.classifier import GenreClassifier
from genre_core.config import GENRES, GenreConfig, ModelConfig
from genre_core.models.devices import torch_installed
from genre_core.models.registry import DEFAULT_MODEL_PATH

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
CLIPS = {genre: DATA / f"{genre}.ogg" for genre in GENRES}
FORMATS = ("wav", "flac", "ogg", "opus", "mp3", "m4a")

#: For tests that train, export or run PyTorch: the torch-free serve install (requirements-serve.txt) has none.
requires_torch = pytest.mark.skipif(
    not torch_installed(),
    reason="needs torch (training, export, --runtime torch); this is the torch-free serve install",
)


def tone(seconds: float, sr: int = 44100, freq: float = 440.0, channels: int = 1, amp: float = 0.5) -> np.ndarray:
    """A sine with a little noise, `(samples,)` or `(samples, channels)`."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(0)
    y = amp * np.sin(2 * np.pi * freq * t) + 0.01 * rng.standard_normal(t.size)
    y = y.astype(np.float32)
    return y if channels == 1 else np.stack([y] * channels, axis=1)


def encode(y: np.ndarray, sr: int, fmt: str) -> bytes:
    """Encode samples as `fmt` bytes, as a user's file would arrive."""
    buffer = io.BytesIO()
    if fmt == "m4a":
        _encode_aac(y, sr, buffer)
    else:
        kinds = {
            "wav": ("WAV", "PCM_16"),
            "flac": ("FLAC", "PCM_16"),
            "ogg": ("OGG", "VORBIS"),
            "opus": ("OGG", "OPUS"),
            "mp3": ("MP3", "MPEG_LAYER_III"),
        }
        container, subtype = kinds[fmt]
        rate = 48000 if fmt == "opus" and sr not in (8000, 12000, 16000, 24000, 48000) else sr
        if rate != sr:
            from genre_core.audio import resample

            y = resample(y if y.ndim == 1 else y.mean(axis=1), sr, rate)
        sf.write(buffer, y, rate, format=container, subtype=subtype)
    return buffer.getvalue()


def _encode_aac(y: np.ndarray, sr: int, buffer: io.BytesIO) -> None:
    import av

    mono = y if y.ndim == 1 else y.mean(axis=1)
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("aac", rate=sr)
        stream.layout = "mono"
        frame = av.AudioFrame.from_ndarray(mono[None, :].astype(np.float32), format="flt", layout="mono")
        frame.sample_rate = sr
        for packet in stream.encode(frame):
            container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


@pytest.fixture
def write_audio(tmp_path: Path) -> Callable[..., Path]:
    def _write(name: str, y: np.ndarray, sr: int = 44100) -> Path:
        path = tmp_path / name
        path.write_bytes(encode(y, sr, path.suffix.lstrip(".")))
        return path

    return _write


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small random model: for testing mechanics, never for quality."""
    pytest.importorskip("torch", reason="builds and saves a model with torch; this is the torch-free serve install")
    from genre_core.models.checkpoint import save_checkpoint
    from genre_core.models.families import build_model

    config = GenreConfig(model=ModelConfig(conv_channels=(4, 8), freq_pools=(4, 4), time_pools=(2, 2), gru_hidden=8))
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    return save_checkpoint(path, build_model(config).eval(), config, metrics={"note": "random"})


@pytest.fixture(scope="session")
def classifier() -> GenreClassifier:
    """The shipped, trained model."""
    assert DEFAULT_MODEL_PATH.is_file(), f"the shipped model is missing: {DEFAULT_MODEL_PATH}"
    return GenreClassifier.load(device="cpu")


# ---- files as a tagged music library holds them --------------------------------------------------

PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000") + bytes(range(40))
TAGGED_FORMATS = ("mp3-v2.4", "mp3-v2.3", "flac", "ogg", "opus", "m4a")
SUFFIX = {"mp3-v2.4": "mp3", "mp3-v2.3": "mp3"}


def make_file(
    folder: Path, fmt: str, genre: str | None, name: str = "track", clip: str = "jazz", title: str = "Blue in Green"
) -> Path:
    """A real clip (a genre's, or another clip of tests/data by name) in `fmt` with the tags a library file has."""
    samples, sr = sf.read(CLIPS.get(clip, DATA / f"{clip}.ogg"), dtype="float32")
    path = folder / f"{name}.{SUFFIX.get(fmt, fmt)}"
    path.write_bytes(encode(samples, sr, SUFFIX.get(fmt, fmt)))
    if fmt.startswith("mp3"):
        tags = ID3()
        tags.add(TIT2(encoding=3, text=title))
        tags.add(TPE1(encoding=3, text="Ünïcode Artist"))
        tags.add(TALB(encoding=3, text="Kind of Test"))
        tags.add(TRCK(encoding=3, text="3/9"))
        tags.add(TDRC(encoding=3, text="1959"))
        tags.add(COMM(encoding=3, lang="eng", desc="", text="a comment"))
        tags.add(TXXX(encoding=3, desc="MusicBrainz Album Id", text="0c5fb3ec-3b8d-4f7b-9c1e-0a6b7a8b5f3e"))
        tags.add(APIC(encoding=3, mime="image/png", type=3, desc="cover", data=PNG))
        if genre:
            tags.add(TCON(encoding=3, text=genre))
        if fmt == "mp3-v2.3":
            tags.update_to_v23()  # as a v2.3 tagger writes it: TYER, not TDRC
        tags.save(path, v2_version=3 if fmt == "mp3-v2.3" else 4)
        return path
    audio = mutagen.File(path)
    if fmt == "m4a":
        audio.tags["©nam"] = [title]
        audio.tags["©ART"] = ["Ünïcode Artist"]
        if genre:
            audio.tags["©gen"] = [genre]
        audio.tags["©alb"] = ["Kind of Test"]
        audio.tags["trkn"] = [(3, 9)]
        audio.tags["covr"] = [MP4Cover(PNG, imageformat=MP4Cover.FORMAT_PNG)]
    else:
        if audio.tags is None:
            audio.add_tags()
        audio.tags["TITLE"] = title
        audio.tags["ARTIST"] = "Ünïcode Artist"
        if genre:
            audio.tags["Genre"] = genre  # an unusual spelling of the key: kept as it is
        audio.tags["ALBUM"] = "Kind of Test"
        audio.tags["TRACKNUMBER"] = "3"
        audio.tags["MUSICBRAINZ_ALBUMID"] = "0c5fb3ec-3b8d-4f7b-9c1e-0a6b7a8b5f3e"
        if fmt == "flac":
            picture = Picture()
            picture.type, picture.mime, picture.data = 3, "image/png", PNG
            audio.add_picture(picture)
    audio.save()
    return path


@pytest.fixture(scope="session")
def tagged_library(tmp_path_factory) -> tuple[Path, Path]:
    """Every committed clip (13 songs), two of them with artist and title tags, tagged by the default model."""
    root = tmp_path_factory.mktemp("similar")
    music = root / "music"
    music.mkdir()
    for genre, clip in CLIPS.items():
        if genre not in ("jazz", "rock"):  # hip_hop.ogg: the page shows file names, and says "hip-hop" itself
            shutil.copy(clip, music / clip.name.replace("hiphop", "hip_hop"))
    make_file(music, "flac", None, name="jazz", clip="jazz", title="Blue in Green")
    make_file(music, "mp3-v2.4", None, name="rock", clip="rock", title="Rock Song")
    for extra in ("electronic", "pop_or_other", "other"):
        shutil.copy(DATA / f"{extra}.ogg", music / f"{extra}.ogg")
    table = root / "library.parquet"
    from genre_core.cli import main

    assert main(["tag", str(music), "--out", str(table), "--workers", "1", "--quiet"]) == 0
    return table, music
