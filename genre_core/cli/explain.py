"""`explain`: occlusion saliency of one window, as JSON (and the map as .npy)."""

from __future__ import annotations

import argparse
import json

from ..errors import UsageError
from .options import add_device, add_model, add_runtime


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    x = sub.add_parser(name, help="occlusion saliency: which part of a window drives the genre")
    x.add_argument("path")
    x.add_argument("--window", type=int, default=1, help="window number, 1-based")
    x.add_argument("--genre", default=None, help="default: the predicted genre")
    x.add_argument("--out", default=None, help="save the (n_mels, frames) map as .npy")
    add_model(x)
    add_device(x)
    add_runtime(x)
    x.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ..classifier import GenreClassifier
    from ..explain import occlusion_saliency
    from ..preview import frame_times, mel_band_hz

    classifier = GenreClassifier.load(args.model, device=args.device, runtime=args.runtime)
    pred = classifier.predict(args.path, keep_features=True)
    if not 1 <= args.window <= len(pred.starts_s):
        raise UsageError(f"--window must be between 1 and {len(pred.starts_s)}")
    i = args.window - 1
    genre = args.genre or pred.genre()
    if genre not in classifier.labels:
        raise UsageError(f"unknown genre '{genre}'")
    saliency = occlusion_saliency(classifier, pred.features[i], genre)
    cfg = classifier.config.features
    times, hz = frame_times(cfg, float(pred.starts_s[i])), mel_band_hz(cfg)
    f, t = np.unravel_index(np.argmax(saliency), saliency.shape)
    if args.out:
        np.save(args.out, saliency)
    print(
        json.dumps(
            {
                "file": args.path,
                "window": args.window,
                "genre": genre,
                "probability": round(float(pred.window_probs[i, classifier.labels.index(genre)]), 4),
                "most_salient": {"time_s": round(float(times[t]), 2), "frequency_hz": round(float(hz[f]))},
                "saliency_file": args.out,
            },
            indent=2,
        )
    )
    return 0
