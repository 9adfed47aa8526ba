"""Load a model once, then classify songs: the one path every caller uses."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .aggregate import aggregate, top_k
from .audio import AudioSource, describe, open_audio
from .config import GenreConfig
from .errors import AudioTooLongError
from .features import LogMel
from .models.checkpoint import Checkpoint, load_checkpoint
from .models.mood import MoodHead
from .models.onnx import open_runtime
from .models.openset import OpenSetDetector
from .windows import DEFAULT_TIMELINE_HOP_S, WindowPlan, plan_windows, read_windows

#: Windows per forward pass: bounds activation memory for long timelines.
BATCH_WINDOWS = 64
#: ONNX Runtime keeps its peak buffers for the next call, so its passes are smaller: the transfer
#: CRNN's front end holds ~9 MB of activations per window before pooling.
ONNX_BATCH_WINDOWS = 16
#: Longer files are refused before decoding: a 12-h stream is not a song.
DEFAULT_MAX_DURATION_S = 4 * 3600.0
#: What the `tags` of a prediction are, for every place that shows them.
TAGS_SOURCE = (
    "Million Song Dataset last.fm tags from the pretrained MSD_musicnn head: "
    "independent per-tag probabilities, not trained on this project's genres"
)


def pick_device(device: str = "auto") -> torch.device:
    """CUDA if present, then Apple MPS, else CPU; or exactly what was asked."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError("CUDA was requested but no CUDA GPU is available; use --device cpu or auto.")
    return torch.device(device)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(device)})"
    return device.type.upper()


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

    def aggregate(self, method: str = "mean") -> np.ndarray:
        return aggregate(self.window_probs, method)

    def top_k(self, k: int = 5, method: str = "mean") -> list[tuple[str, float]]:
        return top_k(self.aggregate(method), self.labels, k)

    def genre(self, method: str = "mean") -> str:
        return self.top_k(1, method)[0][0]

    def top_tags(self, k: int = 8, method: str = "mean") -> list[tuple[str, float]]:
        """The pretrained head's most likely MSD tags (independent sigmoids, not a distribution)."""
        if self.tag_probs is None:
            return []
        return top_k(aggregate(self.tag_probs, method), self.tag_labels, k)

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
            "mood": self.mood,
            "error": None,
        }


class GenreClassifier:
    """A loaded model. Thread-safe: `predict` keeps no state between calls."""

    def __init__(
        self,
        checkpoint: Checkpoint,
        device: str = "auto",
        max_duration_s: float = DEFAULT_MAX_DURATION_S,
        runtime: str = "auto",
    ) -> None:
        self.checkpoint = checkpoint
        self.max_duration_s = max_duration_s
        self.config: GenreConfig = checkpoint.config
        self.device = pick_device(device)
        # Each family's fastest eval copy (the CRNN: BN fused, channels-last; same outputs to ~1e-7).
        self.model = checkpoint.model.for_inference().to(self.device)
        # ONNX Runtime on a CPU when the checkpoint's export is current (`models.onnx.open_runtime`), else PyTorch.
        self.onnx = open_runtime(checkpoint, runtime, self.device)
        self.logmel = LogMel(self.config.features)
        # Temperature scaling fitted on the valid split (1.0 = uncalibrated).
        self.temperature = float(checkpoint.calibration.get("temperature", 1.0))
        # The open-set detector (`models.openset`), where `python -m genre_core openset` fitted one.
        open_set = checkpoint.calibration.get("open_set")
        self.open_set = OpenSetDetector.from_dict(open_set) if open_set else None
        # The mood head (`models.mood`), where `python -m genre_core mood` fitted one (it reads the tags).
        mood = checkpoint.calibration.get("mood")
        self.mood_head = MoodHead.from_dict(mood) if mood else None

    @classmethod
    def load(
        cls,
        path: str | Path | None = None,
        device: str = "auto",
        max_duration_s: float = DEFAULT_MAX_DURATION_S,
        runtime: str = "auto",
    ) -> GenreClassifier:
        return cls(load_checkpoint(path), device, max_duration_s, runtime)

    @property
    def runtime_label(self) -> str:
        """What runs the network: 'ONNX Runtime 1.30.0' or 'PyTorch 2.13.0' (the Dashboard's device card)."""
        if self.onnx is not None:
            return f"ONNX Runtime {self.onnx.version}"
        return f"PyTorch {torch.__version__.split('+')[0]}"

    @property
    def runtime_name(self) -> str:
        """The runtime and the device, e.g. 'ONNX Runtime 1.30.0 (CPU)'."""
        return f"{self.runtime_label} ({device_name(self.device)})"

    @property
    def labels(self) -> tuple[str, ...]:
        return self.config.labels

    @property
    def metrics(self) -> dict[str, Any]:
        return self.checkpoint.metrics

    def plan(self, duration_s: float, strategy: str = "spread", hop_s: float = DEFAULT_TIMELINE_HOP_S) -> WindowPlan:
        return plan_windows(duration_s, self.config.features, strategy, hop_s)

    def extract(
        self,
        source: AudioSource,
        strategy: str = "spread",
        name: str | None = None,
        hop_s: float = DEFAULT_TIMELINE_HOP_S,
    ) -> tuple[WindowPlan, float, torch.Tensor]:
        """Decode only the planned windows of `source`; return their log-mels."""
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
        other, window_other, is_other = self.open_set_verdict(logits, tags)
        return Prediction(
            labels=self.labels,
            window_probs=self.probabilities(logits),
            starts_s=plan.starts_s.copy(),
            ends_s=ends,
            duration_s=duration,
            sample_rate=self.config.features.sample_rate,
            strategy=strategy,
            padded=plan.padded,
            source_name=name or describe(source),
            features=features.numpy() if keep_features else None,
            tag_probs=tags,
            tag_labels=self.tag_labels if tags is not None else (),
            other_probability=other,
            is_other=is_other,
            window_other_probs=window_other,
            mood=self.mood_head.mood(tags) if self.mood_head is not None and tags is not None and len(tags) else None,
        )

    def open_set_verdict(
        self, logits: torch.Tensor, tags: np.ndarray | None
    ) -> tuple[float | None, np.ndarray | None, bool | None]:
        """(P(none of the ten) for the recording, per window, the rule's verdict); Nones without a detector.

        The detector reads the uncalibrated genre probabilities, so re-fitting the temperature never moves it.
        """
        if self.open_set is None or not len(logits):
            return None, None, None
        outputs = {"genres": torch.softmax(logits, dim=-1).numpy(), "tags": tags}
        other = self.open_set.track_probability(outputs)
        threshold = self.open_set.threshold
        return other, self.open_set.window_probabilities(outputs), threshold is not None and other >= threshold

    @property
    def tag_labels(self) -> tuple[str, ...]:
        return tuple(self.model.tag_labels)

    def probabilities(self, logits: torch.Tensor) -> np.ndarray:
        return torch.softmax(logits / self.temperature, dim=-1).numpy()

    def predict_features(self, features: torch.Tensor) -> np.ndarray:
        """`(n, n_mels, frames)` model input → `(n, n_classes)` probabilities."""
        return self.probabilities(self.logits(features))

    def logits(self, features: torch.Tensor) -> torch.Tensor:
        """Raw model outputs, in chunks so a long timeline keeps memory flat."""
        return self.logits_and_tags(features, tags=False)[0]

    def logits_and_tags(self, features: torch.Tensor, tags: bool = True) -> tuple[torch.Tensor, np.ndarray | None]:
        """Genre logits, and the pretrained tag head's probabilities from the same pass where there is one."""
        with_tags = tags and bool(self.model.tag_labels)
        logit_chunks, tag_chunks = [], []
        with torch.inference_mode():
            step = ONNX_BATCH_WINDOWS if self.onnx is not None else BATCH_WINDOWS
            for start in range(0, features.shape[0], step):
                if self.onnx is not None:
                    logits, tag_probs = self.onnx(features[start : start + step].numpy())
                    logit_chunks.append(torch.from_numpy(logits))
                    if with_tags and tag_probs is not None:
                        tag_chunks.append(torch.from_numpy(tag_probs))
                    continue
                batch = features[start : start + step].to(self.device)
                if with_tags:
                    logits, tag_probs = self.model.forward_with_tags(batch)
                    tag_chunks.append(tag_probs.float().cpu())
                else:
                    logits = self.model(batch)
                logit_chunks.append(logits.float().cpu())
        logits = torch.cat(logit_chunks) if logit_chunks else torch.zeros(0, len(self.labels))
        return logits, torch.cat(tag_chunks).numpy() if tag_chunks else None
