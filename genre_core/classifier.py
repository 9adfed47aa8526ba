"""Load a model once, then classify songs: the one path every caller uses.

On a CPU the network runs on ONNX Runtime from the export and its sidecar
(`models.serving`) and nothing here imports torch; PyTorch is loaded only for
CUDA/MPS, `runtime="torch"`, or a checkpoint with no current export.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from .aggregate import aggregate, per_column, softmax, top_k
from .audio import AudioSource, describe, open_audio
from .config import RUNTIMES, GenreConfig
from .errors import AudioTooLongError, CheckpointError
from .features import LogMel
from .models.devices import resolve_device, torch_installed
from .models.mood import MoodHead
from .models.openset import OpenSetDetector, genre_write_cut, verdict
from .models.outside import OutsideHead
from .models.registry import missing_model, resolve_model
from .models.serving import ModelInfo, ServedModel, open_served, read_info, sidecar_path
from .models.song_embedding import SongEmbedding
from .windows import DEFAULT_TIMELINE_HOP_S, WindowPlan, plan_windows, read_windows

if TYPE_CHECKING:
    from torch import nn

    from .models.checkpoint import Checkpoint

log = logging.getLogger("genre_core.classifier")

#: Longer files are refused before decoding: a 12-h stream is not a song.
DEFAULT_MAX_DURATION_S = 4 * 3600.0
#: What the `tags` of a prediction are, for every place that shows them.
TAGS_SOURCE = (
    "Million Song Dataset last.fm tags from the pretrained MSD_musicnn head: "
    "independent per-tag probabilities, not trained on this project's genres"
)


class Network(Protocol):
    """What runs the weights (`models.serving.OnnxModel`, `models.torch_network.TorchNetwork`): numpy in and out."""

    batch_windows: int
    #: 'cpu', 'cuda' or 'mps'; and how the Dashboard names it ('CPU', 'CUDA (NVIDIA H100 ...)').
    device: str
    device_label: str
    #: 'ONNX Runtime 1.30.0' or 'PyTorch 2.13.0'.
    label: str

    def __call__(self, features: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]: ...


@dataclass
class Prediction:
    """Per-window genre probabilities for one song, and where the windows were."""

    labels: tuple[str, ...]
    window_probs: np.ndarray  # (n_windows, n_classes)
    starts_s: np.ndarray
    ends_s: np.ndarray
    duration_s: float
    sample_rate: int
    strategy: str
    padded: bool
    source_name: str = ""
    features: np.ndarray | None = field(default=None, repr=False)  # (n_windows, n_mels, frames)
    #: Tag probabilities of a pretrained tagging head `(n_windows, n_tags)`, where the model has one.
    tag_probs: np.ndarray | None = field(default=None, repr=False)
    tag_labels: tuple[str, ...] = ()
    #: The calibrated probability that the whole recording is none of the ten genres (None: no detector).
    other_probability: float | None = None
    #: The model's own rule: `other_probability` at or above the threshold chosen on valid.
    is_other: bool | None = None
    #: The same detector on each window alone `(n_windows,)`, for the timeline.
    window_other_probs: np.ndarray | None = field(default=None, repr=False)
    #: The emotion quadrant (`models.mood.mood_record`), or None for a model without a mood head.
    mood: dict[str, Any] | None = None
    #: For a song the verdict calls other music: the family it sounds like, `{"genre": "electronic",
    #: "probability": P(electronic | none of the ten)}` (`models.outside`); None when no family is likely.
    outside: dict[str, Any] | None = None
    #: The unit-length song embedding (`models.song_embedding`) that `similar` compares; None without one.
    embedding: np.ndarray | None = field(default=None, repr=False)

    def aggregate(self, method: str = "mean") -> np.ndarray:
        return aggregate(self.window_probs, method)

    def top_k(self, k: int = 5, method: str = "mean") -> list[tuple[str, float]]:
        return top_k(self.aggregate(method), self.labels, k)

    def genre(self, method: str = "mean") -> str:
        return self.top_k(1, method)[0][0]

    def top_tags(self, k: int = 8, method: str = "mean") -> list[tuple[str, float]]:
        """The pretrained head's most likely MSD tags: each tag's own mean, median or max over the windows.

        Independent yes/no probabilities, so never rescaled to a distribution as the genres are.
        """
        if self.tag_probs is None:
            return []
        return top_k(per_column(self.tag_probs, method), self.tag_labels, k)

    def _window_others(self) -> list[float | None]:
        if self.window_other_probs is None:
            return [None] * len(self.starts_s)
        return [float(p) for p in self.window_other_probs]

    def to_dict(self, method: str = "mean", k: int = 5, file: str | None = None) -> dict[str, Any]:
        """The JSON schema the CLI and the app's downloads share."""
        probs = self.aggregate(method)
        return {
            "file": file if file is not None else self.source_name,
            "genre": self.genre(method),
            "top_k": [{"genre": g, "probability": round(p, 6)} for g, p in self.top_k(k, method)],
            "probabilities": {g: round(float(p), 6) for g, p in zip(self.labels, probs, strict=True)},
            "windows": [
                {
                    "start_s": round(float(s), 3),
                    "end_s": round(float(e), 3),
                    "probabilities": {g: round(float(p), 6) for g, p in zip(self.labels, row, strict=True)},
                    **({} if other is None else {"other_probability": round(float(other), 6)}),
                }
                for s, e, row, other in zip(
                    self.starts_s, self.ends_s, self.window_probs, self._window_others(), strict=True
                )
            ],
            "duration_s": round(self.duration_s, 3),
            "aggregate": method,
            "strategy": self.strategy,
            "padded": self.padded,
            "tags": None
            if self.tag_probs is None
            else {
                "source": TAGS_SOURCE,
                "top": [{"tag": t, "probability": round(p, 6)} for t, p in self.top_tags(k, method)],
            },
            "other_probability": None if self.other_probability is None else round(self.other_probability, 6),
            "is_other": self.is_other,
            "outside": self.outside,
            "mood": self.mood,
            "error": None,
        }


class GenreClassifier:
    """A loaded model. Thread-safe: `predict` keeps no state between calls.

    Built from a `ServedModel` (ONNX Runtime, no torch) or from a torch `Checkpoint`
    (which runs its export on a CPU where that is current, else PyTorch).
    """

    def __init__(
        self,
        model: ServedModel | Checkpoint,
        device: str = "auto",
        max_duration_s: float = DEFAULT_MAX_DURATION_S,
        runtime: str = "auto",
        threads: int | None = None,
    ) -> None:
        self.max_duration_s = max_duration_s
        self._checkpoint: Checkpoint | None = None
        self._torch_model: nn.Module | None = None
        if isinstance(model, ServedModel):
            self.info, self.network = model.info, model.network
        else:
            self._checkpoint = model
            self.info, self.network = _checkpoint_network(model, device, runtime, threads)
        self.config: GenreConfig = self.info.config
        self.device: str = self.network.device
        self.logmel = LogMel(self.config.features)
        # Temperature scaling fitted on the valid split (1.0 = uncalibrated).
        self.temperature = float(self.info.calibration.get("temperature", 1.0))
        # The open-set detector (`models.openset`), where `python -m genre_core openset` fitted one.
        open_set = self.info.calibration.get("open_set")
        self.open_set = OpenSetDetector.from_dict(open_set) if open_set else None
        # The mood head (`models.mood`), where `python -m genre_core mood` fitted one (it reads the tags).
        mood = self.info.calibration.get("mood")
        self.mood_head = MoodHead.from_dict(mood) if mood else None
        # The outside head (`models.outside`), where `python -m genre_core outside` fitted one (it reads the tags).
        outside = self.info.calibration.get("outside")
        self.outside_head = OutsideHead.from_dict(outside) if outside else None
        # The song embedding (`models.song_embedding`), where `python -m genre_core embedding` chose one.
        embedding = self.info.calibration.get("embedding")
        self.song_embedding = SongEmbedding.from_dict(embedding) if embedding else None

    @property
    def genre_cut(self) -> float | None:
        """The probability at which a genre of the ten is written (`models.openset.genre_write_cut`).

        The verdict never calls a song other music when its top genre reaches this and is surer than the verdict.
        """
        return genre_write_cut(self.info.calibration)

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        device: str = "auto",
        max_duration_s: float = DEFAULT_MAX_DURATION_S,
        runtime: str = "auto",
        threads: int | None = None,
    ) -> GenreClassifier:
        """A shipped model's name, a checkpoint path or None (the default); on a CPU, served with no torch."""
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown runtime '{runtime}' (known: {', '.join(RUNTIMES)})")
        path = checkpoint_path(path)
        if runtime != "torch" and resolve_device(device) == "cpu":
            served, problem = open_served(path, threads)
            if served is not None:
                return cls(served, "cpu", max_duration_s, runtime, threads)
            if not torch_installed():
                raise CheckpointError(
                    f"Cannot run this model with ONNX Runtime, and this install has no torch to run the "
                    f"checkpoint itself: {problem}."
                )
            # The checkpoint itself decides: its export if that is current (runtime "onnx" says why not), else PyTorch.
            log.info("loading the checkpoint with PyTorch: %s", problem)
        from .models.checkpoint import load_checkpoint

        return cls(load_checkpoint(path), device, max_duration_s, runtime, threads)

    @property
    def checkpoint(self) -> Checkpoint:
        """The torch checkpoint (loaded on first use: training, evaluation and benches need it, serving never)."""
        if self._checkpoint is None:
            from .models.checkpoint import load_checkpoint

            self._checkpoint = load_checkpoint(self.info.path)
        return self._checkpoint

    @property
    def model(self) -> nn.Module:
        """The network's fastest eval copy as a torch module (training and benches; imports torch)."""
        from .models.torch_network import TorchNetwork

        if isinstance(self.network, TorchNetwork):
            return self.network.model
        if self._torch_model is None:
            self._torch_model = self.checkpoint.model.for_inference()
        return self._torch_model

    @property
    def runtime_label(self) -> str:
        """What runs the network: 'ONNX Runtime 1.30.0' or 'PyTorch 2.13.0' (the Dashboard's device card)."""
        return self.network.label

    @property
    def device_label(self) -> str:
        """'CPU', or 'CUDA (NVIDIA H100 ...)'."""
        return self.network.device_label

    @property
    def runtime_name(self) -> str:
        """The runtime and the device, e.g. 'ONNX Runtime 1.30.0 (CPU)'."""
        return f"{self.runtime_label} ({self.device_label})"

    @property
    def labels(self) -> tuple[str, ...]:
        return self.config.labels

    @property
    def metrics(self) -> dict[str, Any]:
        return self.info.metrics

    @property
    def tag_labels(self) -> tuple[str, ...]:
        return self.info.tag_labels

    def plan(self, duration_s: float, strategy: str = "spread", hop_s: float = DEFAULT_TIMELINE_HOP_S) -> WindowPlan:
        return plan_windows(duration_s, self.config.features, strategy, hop_s)

    def extract(
        self,
        source: AudioSource,
        strategy: str = "spread",
        name: str | None = None,
        hop_s: float = DEFAULT_TIMELINE_HOP_S,
    ) -> tuple[WindowPlan, float, np.ndarray]:
        """Decode only the planned windows of `source`; return their log-mels `(n, n_mels, frames)`."""
        cfg = self.config.features
        with open_audio(source, cfg.sample_rate, name) as reader:
            duration = reader.duration_s
            if duration > self.max_duration_s:
                raise AudioTooLongError(
                    f"'{name or describe(source)}' is {duration / 3600:.1f} h long; this classifier accepts "
                    f"recordings up to {self.max_duration_s / 3600:g} h."
                )
            plan = self.plan(duration, strategy, hop_s)
            plan, windows = read_windows(reader, plan, cfg)
        return plan, duration, self.logmel(windows)

    def predict(
        self,
        source: AudioSource,
        strategy: str = "spread",
        keep_features: bool = False,
        name: str | None = None,
        hop_s: float = DEFAULT_TIMELINE_HOP_S,
    ) -> Prediction:
        """Classify each window of `source`; nothing is decoded beyond them."""
        plan, duration, features = self.extract(source, strategy, name, hop_s)
        ends = np.minimum(plan.ends_s, duration) if plan.padded else plan.ends_s
        logits, tags = self.logits_and_tags(features)
        window_probs = self.probabilities(logits)
        other, window_other, is_other = self.open_set_verdict(logits, tags, window_probs)
        has_tags = tags is not None and len(tags) > 0
        return Prediction(
            labels=self.labels,
            window_probs=window_probs,
            starts_s=plan.starts_s.copy(),
            ends_s=ends,
            duration_s=duration,
            sample_rate=self.config.features.sample_rate,
            strategy=strategy,
            padded=plan.padded,
            source_name=name or describe(source),
            features=features if keep_features else None,
            tag_probs=tags,
            tag_labels=self.tag_labels if tags is not None else (),
            other_probability=other,
            is_other=is_other,
            window_other_probs=window_other,
            mood=self.mood_head.mood(tags) if self.mood_head is not None and has_tags else None,
            outside=self.outside_head.outside(tags, is_other) if self.outside_head is not None and has_tags else None,
            embedding=self.embed(window_probs, tags if has_tags else None),
        )

    def embed(self, window_probs: np.ndarray, tags: np.ndarray | None) -> np.ndarray | None:
        """The song's unit-length embedding from its windows' outputs; None without an embedding (or its inputs)."""
        head = self.song_embedding
        if head is None or not len(window_probs) or ("tags" in head.inputs and tags is None):
            return None
        return head(window_probs.mean(axis=0), tags.mean(axis=0) if tags is not None else None)

    def open_set_verdict(
        self, logits: np.ndarray, tags: np.ndarray | None, window_probs: np.ndarray | None = None
    ) -> tuple[float | None, np.ndarray | None, bool | None]:
        """(P(none of the ten) for the recording, per window, the verdict); Nones without a detector.

        The detector reads the uncalibrated genre probabilities, so re-fitting the temperature never moves it.
        The verdict (`models.openset.verdict`) weighs it against the mean calibrated top genre.
        """
        if self.open_set is None or not len(logits):
            return None, None, None
        outputs = {"genres": softmax(logits), "tags": tags}
        other = self.open_set.track_probability(outputs)
        windows = self.open_set.window_probabilities(outputs)
        threshold = self.open_set.threshold
        if threshold is None:
            return other, windows, False
        probs = self.probabilities(logits) if window_probs is None else window_probs
        return other, windows, verdict(other, float(probs.mean(axis=0).max()), threshold, self.genre_cut)

    def probabilities(self, logits: Any) -> np.ndarray:
        """Calibrated genre probabilities of logits (a numpy array, or a CPU tensor from training code)."""
        return softmax(np.asarray(logits, dtype=np.float32), self.temperature)

    def predict_features(self, features: np.ndarray) -> np.ndarray:
        """`(n, n_mels, frames)` model input → `(n, n_classes)` probabilities."""
        return self.probabilities(self.logits(features))

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Raw model outputs, in chunks so a long timeline keeps memory flat."""
        return self.logits_and_tags(features)[0]

    def logits_and_tags(self, features: Any) -> tuple[np.ndarray, np.ndarray | None]:
        """Genre logits, and the pretrained tag head's probabilities from the same pass where there is one."""
        features = np.asarray(features, dtype=np.float32)
        step = self.network.batch_windows
        chunks = [self.network(features[start : start + step]) for start in range(0, features.shape[0], step)]
        logits = np.concatenate([c[0] for c in chunks]) if chunks else np.zeros((0, len(self.labels)), np.float32)
        tags = [c[1] for c in chunks if c[1] is not None]
        return logits, np.concatenate(tags) if tags else None


def checkpoint_path(model: str | Path | None) -> Path:
    """A shipped model's name, a checkpoint path, its export or its sidecar, or None → the checkpoint's path.

    Raises the one "no model file" error when neither the checkpoint nor its sidecar is there.
    """
    path = resolve_model(model)
    if path.suffix in (".onnx", ".json"):  # the export or sidecar named directly: the checkpoint it belongs to
        path = path.with_name(path.name.split(".")[0] + ".pt")
    if not path.is_file() and not sidecar_path(path).is_file():
        raise CheckpointError(missing_model(path))
    return path


def load_info(model: str | Path | None) -> ModelInfo:
    """A model's config, calibration and metrics: from its sidecar (no torch), else from the checkpoint itself."""
    path = checkpoint_path(model)
    info, problem, _ = read_info(path)
    if info is not None:
        return info
    if not torch_installed():
        raise CheckpointError(f"Cannot read this model's settings without torch: {problem}.")
    from .models.checkpoint import load_checkpoint
    from .models.onnx import model_info

    return model_info(load_checkpoint(path))


def _checkpoint_network(
    checkpoint: Checkpoint, device: str, runtime: str, threads: int | None
) -> tuple[ModelInfo, Network]:
    """A torch checkpoint's info, and what runs it: its current export on a CPU, else PyTorch (imports torch)."""
    from .models.onnx import model_info, open_runtime
    from .models.torch_network import TorchNetwork, pick_device

    torch_device = pick_device(device).type
    onnx = open_runtime(checkpoint, runtime, torch_device, threads)
    network: Network = onnx if onnx is not None else TorchNetwork(checkpoint.model, torch_device, threads)
    return model_info(checkpoint), network
