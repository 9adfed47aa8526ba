"""`python -m genre_core predict|tag|write-tags|train|evaluate|bench|...` — a thin shell over the library.

Exit codes: 0 all files classified, 1 some failed (the rest are still
reported), 2 usage errors. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .aggregate import METHODS
from .config import RUNTIMES
from .errors import GenreCoreError, UsageError
from .export import error_record, results_csv, results_json, tag_summary
from .library import find_audio_files
from .windows import ALL_STRATEGIES, DEFAULT_TIMELINE_HOP_S
from .windows import STRATEGIES as STRATEGIES_FOR_TAGS

MODEL_HELP = (
    "a shipped model (musicnn_crnn: transfer CRNN; crnn: from scratch) or a checkpoint path; "
    "default: the shipped model with the better valid macro-F1"
)
RUNTIME_HELP = (
    "auto: ONNX Runtime on a CPU when the model's export is current, else PyTorch; "
    "onnx: ONNX Runtime or an error; torch: PyTorch"
)


def expand_paths(paths: Iterable[str]) -> list[Path]:
    """Files as given; folders become their audio files (by extension or content), recursively."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += find_audio_files(path)
        elif path.exists():
            found.append(path)
        else:
            raise UsageError(f"'{raw}' does not exist")
    if not found:
        raise UsageError("no audio files found in the given paths")
    return found


def predict_command(args: argparse.Namespace) -> int:
    from concurrent.futures import ThreadPoolExecutor

    from .classifier import GenreClassifier

    files = expand_paths(args.paths)
    if args.jobs is not None and args.jobs < 1:
        raise UsageError("--jobs must be at least 1")
    # Default: one job per core for batches; a single file keeps torch's threads for itself.
    jobs = args.jobs or min(os.cpu_count() or 1, len(files))
    if jobs > 1:
        import torch

        torch.set_num_threads(1)  # parallelism comes from the jobs, not from each matmul
    classifier = GenreClassifier.load(args.model, device=args.device, runtime=args.runtime)
    show_progress = len(files) > 1 and not args.quiet
    if show_progress:
        print(f"{classifier.checkpoint.path.name} on {classifier.runtime_name}", file=sys.stderr, flush=True)

    def classify(numbered: tuple[int, Path]) -> dict[str, Any]:
        number, path = numbered
        try:
            record = classifier.predict(path, strategy=args.windows, hop_s=args.hop).to_dict(
                args.aggregate, args.top_k, file=str(path)
            )
        except GenreCoreError as exc:
            record = error_record(str(path), str(exc))
        if show_progress:
            print(f"[{number}/{len(files)}] {path}", file=sys.stderr, flush=True)
        return record

    # predict() keeps no state, so threads may share one classifier; results keep the input order.
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(classify, enumerate(files, 1)))
    write_results(results, args.format, args.top_k, sys.stdout)
    return 1 if any(r["error"] for r in results) else 0


def write_results(results: Sequence[dict[str, Any]], fmt: str, k: int, out: Any) -> None:
    if fmt == "json":
        out.write(results_json(results))
    elif fmt == "csv":
        out.write(results_csv(results))
    else:
        for r in results:
            if r["error"]:
                out.write(f"{r['file']}: ERROR {r['error']}\n")
                continue
            ranked = "  ".join(f"{t['genre']} {t['probability']:.1%}" for t in r["top_k"])
            out.write(f"{r['file']}: {r['genre']}  ({ranked})\n")
            if r.get("tags"):
                out.write(f"    MSD tags (pretrained head, not genres): {tag_summary(r)}\n")


def explain_command(args: argparse.Namespace) -> int:
    import numpy as np

    from .classifier import GenreClassifier
    from .explain import occlusion_saliency
    from .preview import frame_times, mel_band_hz

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


def calibrate_command(args: argparse.Namespace) -> int:
    from .checkpoint import resolve_model
    from .training.calibrate import calibrate

    if not 0 < args.tag_precision < 1:
        raise UsageError("--tag-precision must be between 0 and 1")
    report = calibrate(resolve_model(args.model), Path(args.manifest), tag_precision=args.tag_precision)
    print(json.dumps(report, indent=2))
    return 0


def tag_command(args: argparse.Namespace) -> int:
    from .tagging import TagOptions, print_progress, tag_library

    if not Path(args.library).is_dir():
        raise UsageError(f"'{args.library}' is not a folder")
    options = TagOptions(
        model=args.model, strategy=args.windows, aggregate=args.aggregate, device=args.device, runtime=args.runtime
    )
    summary = tag_library(
        args.library,
        args.out,
        options,
        engine=args.engine,
        workers=args.workers,
        address=args.address,
        gpus_per_worker=args.gpus_per_worker,
        progress=None if args.quiet else print_progress(),
    )
    one_document = args.write_tags and args.format == "json" and not summary["interrupted"]
    if not one_document:  # with --write-tags --format json, the summary goes into the plan's document
        print(json.dumps(summary, indent=2))
    if summary["interrupted"]:
        return 130
    if args.write_tags:
        return write_tags_from_table(Path(args.out), args, tag_summary=summary)
    return 0


def write_tags_command(args: argparse.Namespace) -> int:
    from .write_tags import Journal, undo

    if args.undo:
        results = undo(Journal(args.undo))
        if args.format == "json":
            print(json.dumps([vars(r) for r in results], indent=2, ensure_ascii=False))
        else:
            for r in results:
                print(f"{r.action:<10}  {r.path}: {r.reason}")
            counts = {a: sum(r.action == a for r in results) for a in ("restored", "unchanged", "skip", "failed")}
            print("undo: " + ", ".join(f"{n} {a}" for a, n in counts.items()))
        return 1 if any(r.action == "failed" for r in results) else 0
    if not args.table:
        raise UsageError("give the table made by `python -m genre_core tag` (or --undo JOURNAL)")
    if not Path(args.table).is_file():
        raise UsageError(f"'{args.table}' does not exist")
    return write_tags_from_table(Path(args.table), args)


def write_tags_from_table(table_path: Path, args: argparse.Namespace, tag_summary: dict | None = None) -> int:
    """Plan (and with --apply, write) the genres of a tag table; print the plan and how to undo it.

    `tag_summary`: what `tag` just did; in JSON it leads the same document, so a script reads one.
    """
    from .tagging import read_table
    from .write_tags import (
        Journal,
        apply_plan,
        default_journal,
        plan_lines,
        plan_table,
        refresh_table,
        summarise,
        thresholds_for,
    )

    table = read_table(table_path)
    thresholds = thresholds_for(
        table, args.model, args.min_probability, args.max_genres, args.secondary_min_probability
    )
    planned = plan_table(table, thresholds, args.overwrite, args.mode, args.max_genres)
    journal = Journal(args.journal or default_journal(table_path))
    completed = True
    if args.apply:
        completed = apply_plan(planned, journal)
        refresh_table(table_path, table, planned)
    summary = summarise(planned)
    undo_command = f"python -m genre_core write-tags --undo {journal.path}"
    if args.format == "json":
        report = {
            **({"tag": tag_summary} if tag_summary is not None else {}),
            "applied": args.apply,
            "completed": completed,
            "thresholds": {m: vars(t) for m, t in thresholds.items()},
            "summary": summary,
            "journal": str(journal.path) if args.apply else None,
            "files": [p.to_dict() for p in planned],
        }
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print("\n".join(plan_lines(planned)))
        for t in set(thresholds.values()):
            measured = ""
            if t.valid_precision is not None and t.valid_coverage is not None:
                measured = f"; on valid, written genres were right {t.valid_precision:.1%} of the time, for "
                measured += f"{t.valid_coverage:.0%} of songs"
            print(f"threshold: p >= {t.min_probability:.2f} ({t.source}{measured})")
            if args.max_genres > 1 and t.secondary_min_probability is not None:
                source = f" ({t.secondary_source})" if t.secondary_source else ""
                more = f"up to {args.max_genres - 1} more where p >= {t.secondary_min_probability:.2f}"
                print(f"secondary genres: {more}{source}")
        in_place = [p.path for p in planned if p.in_place]
        if in_place:
            print(f"{len(in_place)} hard-linked file(s) written in place, so every link sees the new genres:")
            print("\n".join(f"  {path}" for path in in_place))
        counts = ", ".join(f"{n} {a}" for a, n in summary.items())
        if not args.apply:
            print(f"dry run: {counts}. Nothing was changed; add --apply to write.")
        else:
            print(f"{counts}. Journal: {journal.path}\nundo: {undo_command}")
            if not completed:
                print("interrupted: the files not written are as they were; the journal is complete.")
    if not completed:
        return 130
    return 1 if summary.get("failed") else 0


def report_command(args: argparse.Namespace) -> int:
    from .checkpoint import resolve_model
    from .training.report import render, splice

    text = render(resolve_model(args.model))
    for document in args.write:
        splice(Path(document), text)
    print(text)
    return 0


def _factors(text: str | None) -> tuple[float, ...] | None:
    """'0.94,1.06' -> (0.94, 1.06); 'none' -> (); None -> leave the default."""
    if text is None:
        return None
    return () if text.strip().lower() in ("", "none") else tuple(float(f) for f in text.split(","))


def train_command(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from .config import GenreConfig, ModelConfig
    from .reference import REFERENCE_ARCH
    from .training.train import TrainSettings, train

    if args.arch == "reference":
        model_cfg = ModelConfig(**REFERENCE_ARCH)
    else:
        sizes = {"conv_channels": tuple(int(c) for c in args.channels.split(","))} if args.channels else {}
        if args.gru_hidden:
            sizes["gru_hidden"] = args.gru_hidden
        model_cfg = replace(ModelConfig(), **sizes)
    settings = TrainSettings(
        epochs=args.epochs,
        max_minutes=args.max_minutes,
        seed=args.seed,
        crops_per_genre=args.crops_per_genre,
        threads=args.threads,
        track_raw=args.track_raw,
        teacher=args.teacher or "",
        distill_weight=args.distill_weight,
    )
    ablations = {
        "spec_augment": False if args.no_spec_augment else None,
        "mixup_alpha": args.mixup_alpha,
        "label_smoothing": args.label_smoothing,
        "speed_factors": _factors(args.speed_factors),
        "stretch_factors": _factors(args.stretch_factors),
        "ema_decay": args.ema_decay,
    }
    settings = replace(settings, **{k: v for k, v in ablations.items() if v is not None})
    if args.no_augment:
        settings = replace(settings, spec_augment=False, mixup_alpha=0.0, speed_factors=(), stretch_factors=())
    summary = train(args.manifest, args.out, GenreConfig(model=model_cfg), settings, device=args.device)
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}, indent=2))
    return 0


def train_transfer_command(args: argparse.Namespace) -> int:
    from .training.transfer import TransferSettings, train_transfer, transfer_config

    if args.candidate:
        from .training.holdout import train_candidate

        summary = train_candidate(args.manifest, args.out, args.candidate, args.holdout_results, args.threads)
        print(json.dumps({k: v for k, v in summary.items() if k not in ("history", "holdout")}, indent=2))
        return 0
    settings = TransferSettings(
        epochs=args.epochs,
        max_minutes=args.max_minutes,
        seed=args.seed,
        threads=args.threads,
        finetune_midend=not args.frozen_midend,
        lr=args.lr,
        midend_lr=args.midend_lr,
        mixup_alpha=args.mixup_alpha,
        gain_db=args.gain_db,
        windows_per_genre=args.windows_per_genre,
    )
    config = transfer_config(embed_dim=args.embed_dim, gru_hidden=args.gru_hidden, step_pool=args.step_pool)
    summary = train_transfer(args.manifest, args.out, config, settings)
    print(json.dumps({k: v for k, v in summary.items() if k != "history"}, indent=2))
    return 0


def holdout_command(args: argparse.Namespace) -> int:
    from .training.holdout import holdout_command as run

    return run(args)


def evaluate_command(args: argparse.Namespace) -> int:
    from .training.evaluate import evaluate_command as run

    return run(args)


def export_command(args: argparse.Namespace) -> int:
    """Write (or confirm) the ONNX export beside each checkpoint."""
    from .checkpoint import SHIPPED_MODELS, load_checkpoint, refresh_export

    for model in args.models or list(SHIPPED_MODELS):
        checkpoint = load_checkpoint(model)
        target = refresh_export(checkpoint)
        if target is None:
            raise UsageError("the onnx exporter is not installed: pip install -r requirements.txt")
        print(f"{checkpoint.path} -> {target}")
    return 0


def bench_command(args: argparse.Namespace) -> int:
    from .bench import run_bench

    return run_bench(args)


def add_write_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--apply", action="store_true", help="write the tags (default: a dry run printing the plan)")
    parser.add_argument(
        "--mode",
        choices=("replace", "append", "merge"),
        default="replace",
        help="replace: the file's genres become ours (files that have genres need --overwrite); append: keep "
        "every existing value, add ours after them; merge: ours first, then the existing ones (default: replace)",
    )
    parser.add_argument("--overwrite", action="store_true", help="--mode replace: replace genres files already have")
    parser.add_argument(
        "--max-genres",
        type=int,
        default=1,
        help="also write a second or third genre where its own probability reaches the model's measured "
        "secondary threshold (default 1: the top genre only)",
    )
    parser.add_argument(
        "--secondary-min-probability",
        type=float,
        default=None,
        help="with --max-genres > 1: write another genre at or above this probability (default: measured)",
    )
    parser.add_argument(
        "--min-probability",
        type=float,
        default=None,
        help="write only at or above this probability (default: the model's threshold, chosen on the valid "
        "split so that written genres are right at least 90%% of the time)",
    )
    parser.add_argument("--journal", default=None, help="undo journal (default: TABLE.undo.jsonl)")
    parser.add_argument("--format", choices=("table", "json"), default="table", help="how the plan is printed")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m genre_core", description="Music genre classification.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("predict", help="classify audio files or folders")
    p.add_argument("paths", nargs="+", help="audio files, or folders of them")
    p.add_argument("--aggregate", choices=METHODS, default="mean")
    p.add_argument("--top-k", type=int, default=5)
    p.add_argument("--windows", choices=ALL_STRATEGIES, default="spread", help="timeline: every --hop seconds")
    p.add_argument("--hop", type=float, default=DEFAULT_TIMELINE_HOP_S, help="timeline hop in seconds")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.add_argument("--runtime", choices=RUNTIMES, default="auto", help=RUNTIME_HELP)
    p.add_argument("--model", default=None, help=MODEL_HELP)
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.add_argument(
        "--jobs",
        type=int,
        default=None,
        help="songs classified at once (default: one per core for several files; torch then uses 1 thread each)",
    )
    p.set_defaults(func=predict_command)

    t = sub.add_parser("train", help="train a checkpoint from a manifest")
    t.add_argument("--manifest", required=True)
    t.add_argument("--out", required=True)
    t.add_argument("--arch", choices=("crnn", "reference"), default="crnn")
    t.add_argument("--channels", default=None, help="conv channels per block, e.g. 24,48,96,160")
    t.add_argument("--gru-hidden", type=int, default=None)
    t.add_argument("--epochs", type=int, default=60)
    t.add_argument("--crops-per-genre", type=int, default=400)
    t.add_argument("--max-minutes", type=float, default=45.0)
    t.add_argument("--seed", type=int, default=1234)
    t.add_argument("--no-augment", action="store_true", help="no SpecAugment, mixup or rendered variants")
    t.add_argument("--no-spec-augment", action="store_true")
    t.add_argument("--mixup-alpha", type=float, default=None, help="0 turns mixup off (default 0.2)")
    t.add_argument("--label-smoothing", type=float, default=None, help="default 0.05")
    t.add_argument("--speed-factors", default=None, help="vari-speed copies, e.g. 0.944,1.059, or none")
    t.add_argument("--stretch-factors", default=None, help="time-stretched copies, e.g. 0.94,1.06 (default none)")
    t.add_argument("--ema-decay", type=float, default=None, help="weight EMA per step, e.g. 0.995 (default 0: off)")
    t.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    t.add_argument("--track-raw", action="store_true", help="also log valid metrics of the raw (unaveraged) weights")
    t.add_argument(
        "--teacher", default=None, help="distil: a model (name or path) whose window probabilities join the targets"
    )
    t.add_argument("--distill-weight", type=float, default=0.7, help="the teacher's share of each target (default 0.7)")
    t.add_argument("--device", default="auto")
    t.set_defaults(func=train_command)

    tt = sub.add_parser("train-transfer", help="train the transfer CRNN (pretrained musicnn front end) from a manifest")
    tt.add_argument("--manifest", required=True)
    tt.add_argument("--out", required=True)
    tt.add_argument("--epochs", type=int, default=30)
    tt.add_argument("--max-minutes", type=float, default=30.0)
    tt.add_argument("--seed", type=int, default=1234)
    tt.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    tt.add_argument("--frozen-midend", action="store_true", help="train only the GRU head; keep the mid end as is")
    tt.add_argument("--lr", type=float, default=1e-3, help="peak learning rate of the head (one-cycle)")
    tt.add_argument("--midend-lr", type=float, default=1e-4, help="peak learning rate of the fine-tuned mid end")
    tt.add_argument("--mixup-alpha", type=float, default=0.2)
    tt.add_argument("--gain-db", type=float, default=6.0, help="half the training windows at a random gain of +-this")
    tt.add_argument("--windows-per-genre", type=int, default=500, help="class-balanced windows per genre per epoch")
    tt.add_argument("--embed-dim", type=int, default=128)
    tt.add_argument("--gru-hidden", type=int, default=128)
    tt.add_argument("--step-pool", type=int, default=4, help="frames max-pooled into one GRU step")
    tt.add_argument(
        "--candidate",
        default=None,
        help="train a design of `holdout` (e.g. frozen) with its own settings; the other knobs are ignored",
    )
    tt.add_argument(
        "--holdout-results",
        default="runs/holdout.json",
        help="with --candidate: the held-out results to store in the checkpoint beside it",
    )
    tt.set_defaults(func=train_transfer_command)

    h = sub.add_parser(
        "holdout",
        help="leave-one-source-out validation of transfer designs (the rule that chooses the shipped model)",
    )
    h.add_argument("--manifest", default="../shared/data/manifest.csv")
    h.add_argument("--candidates", nargs="*", default=[], help="designs to run (see genre_core.training.holdout)")
    h.add_argument("--sources", nargs="*", default=["gtzan", "4q", "emotify"], help="sources to hold out in turn")
    h.add_argument("--out", default="runs/holdout.json", help="results accumulate here (JSON)")
    h.add_argument("--table", action="store_true", help="print the markdown table of the recorded results and exit")
    h.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    h.set_defaults(func=holdout_command)

    e = sub.add_parser("evaluate", help="track-level metrics of a checkpoint on a split")
    e.add_argument("--manifest", required=True)
    e.add_argument("--model", default=None, help=MODEL_HELP)
    e.add_argument("--split", choices=("valid", "test"), default="valid")
    e.add_argument(
        "--baselines",
        nargs="*",
        default=[],
        help="reference checkpoint(s) to compare; 'mfcc' for the logistic baseline",
    )
    e.add_argument("--save", action="store_true", help="write metrics into the checkpoint and models/metrics.json")
    e.add_argument("--out", default=None, help="JSON report path")
    e.set_defaults(func=evaluate_command)

    x = sub.add_parser("explain", help="occlusion saliency: which part of a window drives the genre")
    x.add_argument("path")
    x.add_argument("--window", type=int, default=1, help="window number, 1-based")
    x.add_argument("--genre", default=None, help="default: the predicted genre")
    x.add_argument("--out", default=None, help="save the (n_mels, frames) map as .npy")
    x.add_argument("--model", default=None, help=MODEL_HELP)
    x.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    x.add_argument("--runtime", choices=RUNTIMES, default="auto", help=RUNTIME_HELP)
    x.set_defaults(func=explain_command)

    c = sub.add_parser("calibrate", help="fit temperature scaling and the tag-writing threshold on the valid split")
    c.add_argument("--manifest", required=True)
    c.add_argument("--model", default=None, help=MODEL_HELP)
    c.add_argument(
        "--tag-precision", type=float, default=0.9, help="how often written genres must be right on valid (0.9)"
    )
    c.set_defaults(func=calibrate_command)

    g = sub.add_parser("tag", help="tag a whole music library into Parquet/CSV (resumable)")
    g.add_argument("library", help="folder searched recursively (by extension and by content)")
    g.add_argument("--out", required=True, help="results.parquet, or a .csv name for CSV")
    g.add_argument("--engine", choices=("local", "ray"), default="local")
    g.add_argument("--workers", type=int, default=None, help="processes or Ray actors (default: CPU count)")
    g.add_argument("--address", default=None, help="an existing Ray cluster, e.g. ray://head:10001")
    g.add_argument("--gpus-per-worker", type=float, default=0.0, help="Ray only: GPUs per actor")
    g.add_argument("--windows", choices=STRATEGIES_FOR_TAGS, default="spread")
    g.add_argument("--aggregate", choices=METHODS, default="mean")
    g.add_argument("--device", choices=("cpu", "cuda", "auto"), default="cpu")
    g.add_argument("--runtime", choices=RUNTIMES, default="auto", help=RUNTIME_HELP)
    g.add_argument("--model", default=None, help=MODEL_HELP)
    g.add_argument("--quiet", action="store_true")
    g.add_argument("--write-tags", action="store_true", help="then write the genres into the files (see write-tags)")
    add_write_options(g)
    g.set_defaults(func=tag_command)

    w = sub.add_parser(
        "write-tags",
        help="write a tag table's genres into the files' own tags (dry run unless --apply; undoable)",
    )
    w.add_argument("table", nargs="?", help="the Parquet/CSV made by `tag`")
    w.add_argument("--undo", default=None, metavar="JOURNAL", help="restore the genres a journal recorded")
    w.add_argument("--model", default=None, help="the checkpoint that made the table, for its threshold")
    add_write_options(w)
    w.set_defaults(func=write_tags_command)

    r = sub.add_parser("report", help="markdown tables of the recorded metrics")
    r.add_argument("--model", default=None, help=MODEL_HELP)
    r.add_argument("--write", nargs="*", default=[], help="markdown files whose metrics markers to fill")
    r.set_defaults(func=report_command)

    e = sub.add_parser("export", help="write the ONNX export beside each checkpoint (if missing or stale)")
    e.add_argument("models", nargs="*", help="shipped model names or checkpoint paths (default: every shipped model)")
    e.set_defaults(func=export_command)

    b = sub.add_parser("bench", help="speed and memory against the reference pipeline")
    b.add_argument("--out", default="bench.json")
    b.add_argument("--runs", type=int, default=5)
    b.add_argument("--tagging", type=int, default=0, metavar="N", help="also time tagging N songs: CLI, local, Ray")
    b.add_argument("--profile", action="store_true", help="also time the transfer model's stages and conv variants")
    b.add_argument(
        "--precision-check",
        action="store_true",
        help="bf16 (OpenVINO, if installed) against fp32 on the valid and test splits: decisions changed, accuracy",
    )
    b.add_argument("--precision-only", action="store_true", help="run only the --precision-check")
    b.set_defaults(func=bench_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "top_k", 1) < 1:
        parser.error("--top-k must be at least 1")
    try:
        return args.func(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except GenreCoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
