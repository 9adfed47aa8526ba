"""Every setting that decides what the model sees, in one typed place.

The config is stored inside each checkpoint, so training and inference
can never disagree about sample rate, window length or mel parameters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

#: The team's shared dataset beside the checkout (`../shared/data`): only training, evaluation and the bench read it.
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"

#: What can run a network (`models.onnx.open_runtime`): here so the CLI's options need no torch import.
RUNTIMES: tuple[str, ...] = ("auto", "torch", "onnx")

#: The emotion quadrants of the 4Q dataset (Panda, Malheiro & Paiva 2018) on Russell's valence-arousal plane,
#: as the data codes them, and the words shown and written for them: one place for both.
MOODS: tuple[str, ...] = ("Q1", "Q2", "Q3", "Q4")
MOOD_LABELS: dict[str, str] = {
    "Q1": "happy / energetic",  # positive valence, high arousal
    "Q2": "tense / angry",  # negative valence, high arousal
    "Q3": "sad / melancholic",  # negative valence, low arousal
    "Q4": "calm / relaxed",  # positive valence, low arousal
}
HIGH_AROUSAL: tuple[str, ...] = ("Q1", "Q2")
POSITIVE_VALENCE: tuple[str, ...] = ("Q1", "Q4")

#: Families of music outside the ten that the outside head names (`models.outside`): label → how people read it.
OUTSIDE_GENRES: dict[str, str] = {"electronic": "electronic", "rnb": "R&B/soul", "newage": "ambient/new age"}

#: How a genre is shown to people (the app's charts, tables and display columns); data keys stay as in GENRES.
GENRE_DISPLAY: dict[str, str] = {"hiphop": "hip-hop", **OUTSIDE_GENRES}


def display_genre(label: str) -> str:
    """One spelling per genre everywhere a person reads it: `hiphop` → `hip-hop`."""
    return GENRE_DISPLAY.get(label, label)


def display_tag(tag: str) -> str:
    """An MSD tag as people read it, in the genres' spelling: last.fm's `Hip-Hop`, `Mellow`, `House` → `hip-hop`,
    `mellow`, `house` (the JSON keeps the tag as the pretrained head names it)."""
    return tag.lower()


GENRES: tuple[str, ...] = (
    "blues",
    "classical",
    "country",
    "disco",
    "hiphop",
    "jazz",
    "metal",
    "pop",
    "reggae",
    "rock",
)


@dataclass(frozen=True)
class FeatureConfig:
    """Audio front end: decode, window and log-mel settings."""

    sample_rate: int = 22050
    window_seconds: float = 3.0
    n_windows: int = 10
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    fmin: float = 0.0
    fmax: float | None = None
    top_db: float = 80.0
    min_seconds: float = 0.5
    silence_dbfs: float = -70.0
    #: "db": dB below each window's own peak, floored at -top_db (the from-scratch CRNN);
    #: "log10_1p": log10(1 + log_gain * mel power), musicnn's "logC" (absolute level, no floor).
    compression: str = "db"
    log_gain: float = 10000.0
    #: Frames per window; 0 means every frame of a centred STFT. musicnn was trained on 187.
    frames: int = 0

    @property
    def window_samples(self) -> int:
        return int(round(self.window_seconds * self.sample_rate))

    @property
    def window_frames(self) -> int:
        """Frames per window: `frames`, or all of a centred STFT (130 for the defaults)."""
        return self.frames or 1 + self.window_samples // self.hop_length


@dataclass(frozen=True)
class ModelConfig:
    """CRNN shape: conv blocks, then a bidirectional GRU, then time pooling."""

    conv_channels: tuple[int, ...] = (16, 32, 64, 128)
    freq_pools: tuple[int, ...] = (2, 2, 4, 4)
    time_pools: tuple[int, ...] = (2, 2, 1, 1)
    gru_hidden: int = 96
    gru_layers: int = 2
    dropout: float = 0.3
    pooling: str = "meanmax"  # "meanmax" over all steps, or "last" (reference app)
    #: Which network reads the features: "crnn" (from scratch) or "musicnn_crnn" (pretrained front end).
    family: str = "crnn"
    #: musicnn_crnn only: frames max-pooled into one GRU step, and the projection width before the GRU.
    step_pool: int = 4
    embed_dim: int = 128
    #: musicnn_crnn only: the recurrent path's logits are scaled by this before the summary path's are added.
    sequence_weight: float = 1.0


def musicnn_features() -> FeatureConfig:
    """What MSD_musicnn was trained on: 16 kHz, 512-point STFT, hop 256, 96 mels, logC, 187 frames."""
    return FeatureConfig(
        sample_rate=16000, n_fft=512, hop_length=256, n_mels=96, compression="log10_1p", log_gain=10000.0, frames=187
    )


@dataclass(frozen=True)
class GenreConfig:
    """The complete contract between a checkpoint and the code that runs it."""

    features: FeatureConfig = field(default_factory=FeatureConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    labels: tuple[str, ...] = GENRES

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GenreConfig:
        """Rebuild from a checkpoint, refusing keys this code does not know."""
        return cls(
            features=_build(FeatureConfig, data.get("features", {})),
            model=_build(ModelConfig, data.get("model", {})),
            labels=tuple(data.get("labels", GENRES)),
        )


def _build(kind: type, values: dict[str, Any]) -> Any:
    known = {f.name for f in fields(kind)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"{kind.__name__} has no setting(s) {unknown}: the checkpoint was made by "
            "a newer or different version of genre_core"
        )
    converted = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return kind(**converted)
