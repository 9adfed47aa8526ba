"""The frozen pretrained front end, computed once per window and cached on disk.

Every window is cut, decoded and featurised by the app's own path
(`GenreClassifier.extract`), run once through the frozen musicnn front end, and its
`(561, 187)` output stored as float16. Gain augmentation is rendered into the cache:
musicnn's input is log10(1 + C·P), so a gain g maps it to log10(1 + g²·(10^x − 1))
before the front end, and half the training windows are cached at a random gain.
Recording-style copies (MP3, band limit, EQ) are cached the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from tqdm import tqdm

from ..audio import load_audio
from ..classifier import GenreClassifier
from ..errors import GenreCoreError
from ..models.musicnn import FRONTEND_CHANNELS, MusicnnCRNN
from ..models.pretrained.convert import WEIGHTS_PATH, sha256
from .data import Recording, content_key
from .styles import STYLES, StyleParams, draw, render

log = logging.getLogger("genre_core.train")
DEFAULT_CACHE = Path(__file__).resolve().parents[2] / ".cache" / "musicnn"


def apply_gain(features: torch.Tensor, gain_db: torch.Tensor) -> torch.Tensor:
    """log10(1 + C·P) of windows played `gain_db` louder, exactly: C·P = 10^x − 1 scales by 10^(g/10)."""
    scaled = torch.expm1(features * np.log(10.0)).clamp(min=0.0) * (10.0 ** (gain_db / 10.0)).reshape(-1, 1, 1)
    return torch.log1p(scaled) / np.log(10.0)


@torch.inference_mode()
def frontend_cache(
    recs: list[Recording],
    classifier: GenreClassifier,
    strategy: str,
    hop_s: float,
    gain_db: float,
    cache_dir: Path,
    seed: int,
) -> list[np.ndarray]:
    """Per recording `(windows, 561, 187)` float16 front-end outputs, computed at most once."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    settings = {
        "features": asdict(classifier.config.features),
        "strategy": strategy,
        "hop": hop_s,
        "gain": gain_db,
        "seed": seed,
        "weights": sha256(WEIGHTS_PATH),
    }
    model: MusicnnCRNN = classifier.model

    def compute(i: int, rec: Recording) -> torch.Tensor:
        try:
            features = torch.from_numpy(classifier.extract(rec.path, strategy, hop_s=hop_s)[2])
        except GenreCoreError as exc:  # silent or unreadable: nothing to learn from
            log.info("skipping %s: %s", rec.path.name, exc)
            return torch.zeros(0, FRONTEND_CHANNELS, classifier.config.features.window_frames)
        if gain_db > 0:
            rng = np.random.default_rng([seed, i])
            gains = torch.from_numpy(rng.uniform(-gain_db, gain_db, len(features)).astype(np.float32))
            gains[::2] = 0.0  # every other window keeps the original level
            features = apply_gain(features, gains)
        return model.musicnn.frontend(features)

    return [
        _cached(cache_dir / f"{content_key(rec.path, settings)}.npy", lambda i=i, rec=rec: compute(i, rec))
        for i, rec in enumerate(tqdm(recs, desc=f"musicnn front end ({strategy})"))
    ]


def _cached(target: Path, compute: Callable[[], torch.Tensor]) -> np.ndarray:
    """`compute()` as float16, stored at `target` the first time (written beside, then renamed)."""
    if not target.exists():
        tmp = target.with_suffix(".tmp.npy")
        np.save(tmp, compute().numpy().astype(np.float16))
        tmp.rename(target)
    return np.load(target)


@torch.inference_mode()
def style_cache(
    recs: list[Recording], classifier: GenreClassifier, styles: tuple[str, ...], cache_dir: Path, seed: int
) -> list[tuple[str, np.ndarray]]:
    """Per recording, one recording-style copy's front-end output (a window every 3 s), computed at most once.

    Recording i gets `STYLES[i % 3]`, so each chain covers a third of every genre and can be
    measured on its own; a recording whose chain is not in `styles` gets no copy. The copy is
    rendered as a file (an MP3 for the mp3 chain) and read back by the app's own decoder.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    model: MusicnnCRNN = classifier.model
    empty = np.zeros((0, FRONTEND_CHANNELS, classifier.config.features.window_frames), np.float16)
    out = []
    for i, rec in enumerate(tqdm(recs, desc="musicnn front end (recording styles)")):
        style = STYLES[i % len(STYLES)]
        if style not in styles:
            out.append((style, empty))
            continue
        params = draw(style, np.random.default_rng([seed, i, 7]))
        key = {"features": asdict(classifier.config.features), "style": asdict(params), "weights": sha256(WEIGHTS_PATH)}

        def compute(rec: Recording = rec, params: StyleParams = params) -> torch.Tensor:
            rate = sf.info(str(rec.path)).samplerate
            try:
                audio = render(load_audio(rec.path, rate), rate, params)
                features = torch.from_numpy(classifier.extract(audio, "timeline", hop_s=3.0)[2])
            except GenreCoreError as exc:
                log.info("skipping %s: %s", rec.path.name, exc)
                return torch.from_numpy(empty)
            return model.musicnn.frontend(features)

        out.append((style, _cached(cache_dir / f"{content_key(rec.path, key)}.npy", compute)))
    return out


@torch.inference_mode()
def input_band_mean(recs: list[Recording], classifier: GenreClassifier) -> torch.Tensor:
    """Mean model input per mel band over the recordings' spread windows: the occlusion map's "nothing special"."""
    total = torch.zeros(classifier.config.features.n_mels)
    count = 0
    for rec in recs:
        try:
            features = torch.from_numpy(classifier.extract(rec.path, "spread")[2])
        except GenreCoreError:
            continue
        total += features.sum(dim=(0, 2))
        count += features.shape[0] * features.shape[2]
    return total / max(count, 1)
