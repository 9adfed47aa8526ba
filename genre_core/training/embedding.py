"""Choose the song embedding by measured retrieval: `python -m genre_core.training.embedding --manifest M`.

Candidates, each z-scored on the pool and L2-normalised (cosine similarity): the genre log-probabilities,
the MSD tag log-odds, both, and the network's penultimate layer (the input of its genre layer, read through
PyTorch); baselines: MFCC statistics (20 coefficients' mean and standard deviation over the ten windows,
what older tools use) and random vectors. For each query recording of the ten genres, its neighbours come
from a pool (train + the query's split), itself excluded: the share of its 5 and 10 nearest that share its
genre, and for artists with several recordings, how often another of theirs is among its 10 nearest. Chosen
on valid; the test split is reported once for the shipped choice.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from ..classifier import GenreClassifier
from ..errors import GenreCoreError
from .data import read_manifest


def collect(classifier: GenreClassifier, recs: list, quiet: bool = False) -> dict[str, np.ndarray]:
    """Per recording: mean genre probabilities, mean tag probabilities, mean penultimate layer, MFCC statistics."""
    import librosa
    from tqdm import tqdm

    network = classifier.network.model  # the torch CRNN
    captured: list[torch.Tensor] = []
    hook = network.head[-1].register_forward_hook(lambda m, args, out: captured.append(args[0].detach()))
    out: dict[str, list] = {"genres": [], "tags": [], "penultimate": [], "mfcc": [], "ok": []}
    try:
        for rec in tqdm(recs, desc="outputs", disable=quiet):
            try:
                plan, _, features = classifier.extract(rec.path, "spread")
            except GenreCoreError:
                out["ok"].append(False)
                for key in ("genres", "tags", "penultimate", "mfcc"):
                    out[key].append(None)
                continue
            captured.clear()
            with torch.inference_mode():
                logits, tags = classifier.logits_and_tags(features)
            out["genres"].append(classifier.probabilities(logits).mean(axis=0))
            out["tags"].append(tags.mean(axis=0))
            out["penultimate"].append(torch.cat(captured).mean(dim=0).numpy())
            out["mfcc"].append(mfcc_statistics(rec.path, librosa))
            out["ok"].append(True)
    finally:
        hook.remove()
    ok = np.asarray(out["ok"])
    result = {"ok": ok}
    for key in ("genres", "tags", "penultimate", "mfcc"):
        width = next(len(v) for v in out[key] if v is not None)
        result[key] = np.stack([v if v is not None else np.zeros(width) for v in out[key]])
    return result


def mfcc_statistics(path: Path, librosa) -> np.ndarray:
    """20 MFCCs' mean and standard deviation over the first 30 s: the classic content descriptor."""
    y, sr = librosa.load(path, sr=22050, mono=True, duration=30.0)
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=20)
    return np.r_[mfcc.mean(axis=1), mfcc.std(axis=1)]


def candidates(data: dict[str, np.ndarray], seed: int = 0) -> dict[str, np.ndarray]:
    genres = np.log(np.clip(data["genres"], 1e-6, 1))
    tags = np.clip(data["tags"], 1e-6, 1 - 1e-6)
    tags = np.log(tags / (1 - tags))
    return {
        "genres": genres,
        "tags": tags,
        "genres+tags": np.c_[genres, tags],
        "penultimate": data["penultimate"],
        "mfcc (baseline)": data["mfcc"],
        "random (baseline)": np.random.default_rng(seed).normal(size=(len(genres), 64)),
    }


def normalised(x: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """z-scored on the pool's statistics, then unit length: cosine similarity is a dot product."""
    mean, scale = x[pool].mean(axis=0), x[pool].std(axis=0)
    z = (x - mean) / np.where(scale > 1e-9, scale, 1.0)
    return z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-9)


def retrieval(x: np.ndarray, genre: np.ndarray, group: np.ndarray, query: np.ndarray, pool: np.ndarray) -> dict:
    """Same-genre share among the 5 and 10 nearest (pool, self excluded); artist hit rate in the top 10."""
    e = normalised(x, pool)
    sims = e[query] @ e[pool].T
    pool_index, query_index = np.flatnonzero(pool), np.flatnonzero(query)
    sims[pool_index[None, :] == query_index[:, None]] = -np.inf  # never the query itself
    order = np.argsort(-sims, axis=1)[:, :10]
    neighbours = pool_index[order]
    same = genre[neighbours] == genre[query_index][:, None]
    counts = {g: int((group[pool] == g).sum()) for g in set(group[query_index])}
    several = np.asarray(
        [counts[g] - (1 if pool[i] else 0) >= 1 for g, i in zip(group[query_index], query_index, strict=True)]
    )
    artist_hit = (group[neighbours] == group[query_index][:, None]).any(axis=1)
    return {
        "same_genre_at_5": float(same[:, :5].mean()),
        "same_genre_at_10": float(same.mean()),
        "artist_in_top_10": float(artist_hit[several].mean()) if several.any() else None,
        "artist_queries": int(several.sum()),
        "queries": int(len(query_index)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--manifest", required=True)
    parser.add_argument("--model", default=None)
    parser.add_argument("--cache", default=".cache/embedding-study.npz")
    parser.add_argument("--splits", default="valid", help="query splits, e.g. valid or test (report once)")
    args = parser.parse_args()
    classifier = GenreClassifier.load(args.model, device="cpu", runtime="torch")
    recs = read_manifest(args.manifest, classifier.labels)
    cache = Path(args.cache)
    if cache.is_file():
        data = dict(np.load(cache))
    else:
        data = collect(classifier, recs)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, **data)
    genre = np.asarray([r.genre for r in recs])
    group = np.asarray([r.group for r in recs])
    split = np.asarray([r.split for r in recs])
    source = np.asarray([r.source for r in recs])
    ok = data["ok"]
    results = {}
    for name, x in candidates(data).items():
        for query_split in args.splits.split(","):
            query = ok & (split == query_split)
            pool = ok & ((split == "train") | (split == query_split))
            row = retrieval(x, genre, group, query, pool)
            row["by_source"] = {
                s: retrieval(x, genre, group, query & (source == s), pool)["same_genre_at_5"]
                for s in sorted(set(source[query]))
            }
            results[f"{name} / {query_split}"] = row
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
