"""Every setting that decides what the model sees, in one typed place.

The config is stored inside each checkpoint, so training and inference
can never disagree about sample rate, window length or mel parameters.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

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

    @property
    def window_samples(self) -> int:
        return int(round(self.window_seconds * self.sample_rate))

    @property
    def window_frames(self) -> int:
        """Frames of a centred STFT over one window (130 for the defaults)."""
        return 1 + self.window_samples // self.hop_length


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
