"""genre_core: music genre classification from audio, with no UI dependency.

from genre_core import GenreClassifier
clf = GenreClassifier.load()                # the shipped model, CPU or GPU
pred = clf.predict("song.mp3")               # ten 3-s windows, spread over the song
pred.top_k(3, method="mean")                 # [("rock", 0.71), ...]
"""

from .aggregate import METHODS, aggregate, top_k
from .classifier import GenreClassifier, Prediction
from .config import GENRES, FeatureConfig, GenreConfig, ModelConfig
from .errors import (
    AudioDecodeError,
    AudioTooLongError,
    AudioTooShortError,
    CheckpointError,
    GenreCoreError,
    SilentAudioError,
)
from .windows import STRATEGIES

__all__ = [
    "GENRES",
    "METHODS",
    "STRATEGIES",
    "AudioDecodeError",
    "AudioTooLongError",
    "AudioTooShortError",
    "CheckpointError",
    "FeatureConfig",
    "GenreClassifier",
    "GenreConfig",
    "GenreCoreError",
    "ModelConfig",
    "Prediction",
    "SilentAudioError",
    "aggregate",
    "top_k",
]
