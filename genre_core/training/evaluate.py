"""Track-level evaluation through the exact path the app uses.

Every recording is decoded by `GenreClassifier.extract` (ten windows,
both strategies) and classified by each model on the same features, so
the shipped model and the baselines are compared on identical inputs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import librosa
import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix, f1_score, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from ..aggregate import METHODS, aggregate
from ..classifier import GenreClassifier
from ..config import GenreConfig
from ..models.checkpoint import Checkpoint, load_checkpoint, save_checkpoint, write_metrics_index
from ..models.families import build_model
from ..models.registry import resolve_model
from ..windows import STRATEGIES
from .data import Recording, build_cache, read_manifest
from .train import window_batch

HEADLINE = ("spread", "mean")  # the app's default setting


def mfcc_stats(features: torch.Tensor | np.ndarray, n_mfcc: int = 20) -> np.ndarray:
    """MFCC mean and std per window `(n, 2*n_mfcc)`, from the log-mel windows."""
    logmel = np.asarray(features, dtype=np.float32)
    mfcc = librosa.feature.mfcc(S=logmel, n_mfcc=n_mfcc)
    return np.concatenate([mfcc.mean(axis=-1), mfcc.std(axis=-1)], axis=-1)


def fit_mfcc_baseline(recs: list[Recording], config: GenreConfig) -> Any:
    """Baseline (a): logistic regression on MFCC statistics of training windows (the from-scratch log-mel)."""
    specs = build_cache(recs, config.features)
    xs, ys = [], []
    for spec, rec in zip(specs, recs, strict=True):
        x = mfcc_stats(window_batch(spec, rec.duration_s, config, "spread"))
        xs.append(x)
        ys += [config.labels.index(rec.genre)] * len(x)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, class_weight="balanced", C=0.5))
    return model.fit(np.concatenate(xs), np.asarray(ys))


class MfccBaseline:
    """Baseline (a) behind the classifier interface evaluation uses: its own features, window probabilities."""

    def __init__(self, train_recs: list[Recording]) -> None:
        self.config = GenreConfig()
        self.extractor = GenreClassifier(Checkpoint(build_model(self.config), self.config), device="cpu")
        self.model = fit_mfcc_baseline(train_recs, self.config)

    def window_probs(self, path: Path, strategy: str) -> np.ndarray:
        return self.model.predict_proba(mfcc_stats(self.extractor.extract(path, strategy)[2]))


class ModelRun:
    """A checkpoint through the app's path: decode its own way, classify every window."""

    def __init__(self, classifier: GenreClassifier) -> None:
        self.classifier = classifier

    def window_probs(self, path: Path, strategy: str) -> np.ndarray:
        return self.classifier.predict(path, strategy).window_probs


class LinearProbe:
    """The linear probe of issue 12: logistic regression on frozen, window-averaged musicnn embeddings.

    Each window's embedding is the pretrained MSD_musicnn's 200-d penultimate layer (on valid it
    beat the 1,506 max+mean pooled features, 0.760 vs 0.491 macro-F1, and the 50 tags, 0.715; C=0.3
    chosen on valid); a recording is the mean of its windows. Fitted on the train split's cached
    front-end windows (the transfer CRNN's training cache): what the transfer CRNN saw, with no
    recurrent layer and no fine-tuning.
    """

    def __init__(self, train_recs: list[Recording], labels: tuple[str, ...]) -> None:
        from ..models.musicnn import MusicnnCRNN
        from .frontend_cache import DEFAULT_CACHE, frontend_cache
        from .transfer import TransferSettings, new_model, transfer_config

        config = transfer_config()
        self.model: MusicnnCRNN = new_model(config).for_inference()
        self.extractor = GenreClassifier(Checkpoint(self.model, config), device="cpu")
        s = TransferSettings()
        fronts = frontend_cache(train_recs, self.extractor, "timeline", s.train_hop_s, s.gain_db, DEFAULT_CACHE, s.seed)
        keep = [i for i, f in enumerate(fronts) if len(f)]
        x = np.stack([self._pool(torch.from_numpy(fronts[i]).float()).mean(axis=0) for i in keep])
        y = np.asarray([labels.index(train_recs[i].genre) for i in keep])
        self.probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=3000, class_weight="balanced", C=0.3))
        self.probe.fit(x, y)

    @torch.inference_mode()
    def _pool(self, front: torch.Tensor) -> np.ndarray:
        return np.concatenate(
            [
                self.model.musicnn.penultimate(self.model.musicnn.midend(front[s : s + 128])).numpy()
                for s in range(0, len(front), 128)
            ]
        )

    @torch.inference_mode()
    def window_probs(self, path: Path, strategy: str) -> np.ndarray:
        features = torch.from_numpy(self.extractor.extract(path, strategy)[2])
        pooled = self._pool(self.model.musicnn.frontend(features)).mean(axis=0, keepdims=True)
        return self.probe.predict_proba(pooled)  # one row: the probe sees the recording, not windows


def scores(y: np.ndarray, probs: np.ndarray, labels: tuple[str, ...]) -> dict[str, Any]:
    pred = probs.argmax(1)
    return {
        "n": int(len(y)),
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(f1_score(y, pred, average="macro", labels=range(len(labels)), zero_division=0)),
    }


def dataset_scores(y: np.ndarray, probs: np.ndarray, labels: tuple[str, ...]) -> dict[str, Any]:
    """Accuracy, and macro-F1 over the genres this dataset has (Emotify has three): a wrong guess still counts."""
    present = sorted(set(y.tolist()))
    pred = probs.argmax(1)
    return {
        "n": int(len(y)),
        "accuracy": float(accuracy_score(y, pred)),
        "macro_f1": float(f1_score(y, pred, average="macro", labels=present, zero_division=0)),
        "genres": [labels[i] for i in present],
    }


def full_report(
    y: np.ndarray, probs: np.ndarray, labels: tuple[str, ...], families: np.ndarray, sources: np.ndarray | None = None
) -> dict[str, Any]:
    pred = probs.argmax(1)
    present = [i for i in range(len(labels)) if (y == i).any()]
    auc = {labels[i]: float(roc_auc_score(y == i, probs[:, i])) for i in present if 0 < (y == i).sum() < len(y)}
    report = scores(y, probs, labels)
    report.update(
        {
            "per_genre": classification_report(
                y, pred, labels=range(len(labels)), target_names=labels, output_dict=True, zero_division=0
            ),
            "confusion_matrix": confusion_matrix(y, pred, labels=range(len(labels))).tolist(),
            "roc_auc": auc,
            "by_source": {
                fam: scores(y[families == fam], probs[families == fam], labels)
                for fam in ("gtzan", "other")
                if (families == fam).any()
            },
        }
    )
    if sources is not None:  # each dataset on its own: 4Q and Emotify differ as much as either from GTZAN
        report["by_dataset"] = {
            src: dataset_scores(y[sources == src], probs[sources == src], labels)
            for src in sorted(set(sources.tolist()))
        }
    return report


def evaluate(
    manifest: str | Path, split: str, model_path: str | Path | None, baselines: list[str], quiet: bool = False
) -> dict[str, Any]:
    """Every model classifies every recording of `split` through its own decode and features.

    `baselines`: "mfcc" (baseline a), "probe" (the musicnn linear probe), or checkpoints
    (a path or a shipped model's name). Each model's wall time per recording is recorded too.
    """
    classifier = GenreClassifier.load(model_path, device="cpu")
    labels = classifier.labels
    everything = read_manifest(manifest, labels)
    recs = [r for r in everything if r.split == split]
    train_recs = [r for r in everything if r.split == "train"]
    runs: dict[str, Any] = {"shipped": ModelRun(classifier)}
    for name in baselines:
        if name == "mfcc":
            runs["mfcc_logreg"] = MfccBaseline(train_recs)
        elif name == "probe":
            runs["musicnn_probe"] = LinearProbe(train_recs, labels)
        else:
            runs[Path(str(name)).stem] = ModelRun(GenreClassifier(load_checkpoint(resolve_model(name)), device="cpu"))
    y = np.asarray([labels.index(r.genre) for r in recs])
    families = np.asarray([r.family for r in recs])
    sources = np.asarray([r.source for r in recs])
    window_probs: dict[str, dict[str, list[np.ndarray]]] = {}
    seconds: dict[str, float] = dict.fromkeys(runs, 0.0)
    for rec in tqdm(recs, desc=f"evaluate {split}", disable=quiet, file=sys.stderr):
        short = rec.duration_s <= 30.0  # both strategies plan the same windows: classify once
        for name, run in runs.items():
            for strategy in STRATEGIES:
                if short and strategy != STRATEGIES[0]:
                    probs = window_probs[name][STRATEGIES[0]][-1]
                else:
                    started = time.perf_counter()
                    probs = run.window_probs(rec.path, strategy)
                    if strategy == STRATEGIES[0]:
                        seconds[name] += time.perf_counter() - started
                window_probs.setdefault(name, {}).setdefault(strategy, []).append(probs)

    results: dict[str, Any] = {"split": split, "recordings": len(recs), "seconds": round(sum(seconds.values()), 1)}
    results["ms_per_recording"] = {name: round(1000 * t / max(len(recs), 1), 1) for name, t in seconds.items()}
    # What ran each model's network: the timings depend on it (ONNX Runtime or PyTorch; the baselines' own).
    results["runtime"] = {
        name: run.classifier.runtime_name if isinstance(run, ModelRun) else "PyTorch + scikit-learn"
        for name, run in runs.items()
    }
    results["models"] = {}
    for name, by_strategy in window_probs.items():
        table = {}
        for strategy, per_track in by_strategy.items():
            for method in METHODS:
                probs = np.stack([aggregate(p, method) for p in per_track])
                key = f"{strategy}/{method}"
                table[key] = (
                    full_report(y, probs, labels, families, sources)
                    if (strategy, method) == HEADLINE
                    else scores(y, probs, labels)
                )
        results["models"][name] = table
    results["headline"] = {
        "strategy": HEADLINE[0],
        "aggregate": HEADLINE[1],
        **results["models"]["shipped"][f"{HEADLINE[0]}/{HEADLINE[1]}"],
    }
    return results


def print_summary(results: dict[str, Any]) -> None:
    print(f"split={results['split']} recordings={results['recordings']} ({results['seconds']} s)")
    for name, table in results["models"].items():
        for key, row in table.items():
            print(f"  {name:14s} {key:16s} acc={row['accuracy']:.3f} macro_f1={row['macro_f1']:.3f}")


def save_metrics(model_path: Path, results: dict[str, Any]) -> None:
    """Store the split's report in the checkpoint, and under the checkpoint's name in models/metrics.json."""
    ckpt = load_checkpoint(model_path)
    metrics = dict(ckpt.metrics)
    metrics[results["split"]] = results
    save_checkpoint(model_path, ckpt.model, ckpt.config, metrics, ckpt.training, ckpt.calibration)
    write_metrics_index(model_path, load_checkpoint(model_path))
    if "per_genre" in results["headline"]:
        plot_confusion(
            results["headline"],
            ckpt.config.labels,
            model_path.parent / f"{model_path.stem}_confusion_{results['split']}.png",
        )


def plot_confusion(report: dict[str, Any], labels: tuple[str, ...], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matrix = np.asarray(report["confusion_matrix"])
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(v), ha="center", va="center", color="white" if v > matrix.max() / 2 else "black", fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(f"acc {report['accuracy']:.1%}, macro-F1 {report['macro_f1']:.3f}")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
