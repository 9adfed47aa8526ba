"""`bench`: speed and memory of every shipped model against the reference pipeline, in one run."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    b = sub.add_parser(name, help="speed and memory against the reference pipeline")
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
    b.add_argument(
        "--similar",
        action="store_true",
        help="run only the `similar` search bench: query time and memory at 10,000, 100,000 and 1,000,000 songs",
    )
    b.add_argument(
        "--batch-curve",
        action="store_true",
        help="run only the curve of warm time against peak RSS per windows-per-pass setting of ONNX Runtime",
    )
    b.add_argument(
        "--decode", action="store_true", help="run only the MP3 decoding bench: libsndfile (mpg123) against PyAV"
    )
    b.add_argument(
        "--tag-full",
        type=int,
        default=0,
        metavar="N",
        help="run only `tag` on N full-length songs (3-5 min) per workers x threads setting",
    )
    b.add_argument(
        "--int8",
        action="store_true",
        help="run only the int8 variants of the default export against fp32 on valid and test (needs ../shared)",
    )
    b.add_argument(
        "--distilled",
        action="store_true",
        help="run only the fast CRNN (distilled from the default) against the default on valid and test: "
        "decisions changed, accuracy, speed (needs ../shared)",
    )
    b.add_argument(
        "--coarse-front-end",
        action="store_true",
        help="run only the default model with its front end on pairs of mel bands against the shipped one on "
        "valid and test: decisions changed, accuracy, speed (needs ../shared)",
    )
    b.add_argument(
        "--coarse-weights",
        metavar="PATH",
        help="with --coarse-front-end: the front end fitted by `train-coarse-front` (default: summed kernel rows)",
    )
    b.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..bench import run_bench

    if args.similar:
        return run_similar(args.out)
    if args.batch_curve:
        return run_batch_curve(args.out, args.runs)
    if args.decode:
        return run_decode(args.out, args.runs)
    if args.tag_full:
        return run_tag_full(args.out, args.tag_full)
    if args.int8:
        from ..bench.int8 import int8_check

        return run_split_check(args.out, "int8", int8_check)
    if args.distilled:
        from ..bench.distilled import distilled_check

        return run_split_check(args.out, "distilled", distilled_check)
    if args.coarse_front_end:
        from ..bench.coarse import coarse_check

        return run_split_check(args.out, "coarse_front_end", lambda: coarse_check(weights=args.coarse_weights))

    run_bench(
        out=args.out,
        runs=args.runs,
        tagging=args.tagging,
        profile=args.profile,
        precision_check=args.precision_check,
        precision_only=args.precision_only,
    )
    return 0


def run_similar(out: str) -> int:
    import json
    from pathlib import Path

    from ..bench.similar import bench_similar
    from ..classifier import load_info
    from ..models.registry import resolve_model

    head = load_info(resolve_model(None)).calibration.get("embedding")
    width = len(head["mean"]) if head else 60
    rows = bench_similar(width)
    header = ("songs", "search_ms", "full_sort_baseline_ms", "speedup_vs_full_sort", "single_query_ms")
    columns = (*header, "batch_32_queries_ms", "vectors_mb", "index_mb")
    print("  ".join(f"{h:>21}" for h in columns))
    for row in rows:
        print("  ".join(f"{row[h]:>21}" for h in columns))
    Path(out).write_text(json.dumps({"similar": rows}, indent=2))
    return 0


def run_batch_curve(out: str, runs: int) -> int:
    import json
    from pathlib import Path

    from ..bench.batch import batch_curve

    rows = with_inputs(lambda inputs: batch_curve(inputs["30s_44k_stereo.mp3"], inputs["4min_44k_stereo.mp3"], runs))
    columns = ("model", "windows", "arena", "peak_rss_mb", "short_ms", "long_ms", "timeline_ms", "timeline_peak_rss_mb")
    print("  ".join(f"{c:>12}" for c in (*columns, "short_vs_today", "long_vs_today", "timeline_vs_today")))
    for row in rows:
        cells = [row[c] if not isinstance(row[c], float) else round(row[c], 1) for c in columns]
        cells += [row["short_vs_today"], row["long_vs_today"], row["timeline_vs_today"]]
        print("  ".join(f"{c!s:>12}" for c in cells))
    Path(out).write_text(json.dumps({"batch_curve": rows}, indent=2))
    return 0


def run_split_check(out: str, key: str, check: Callable[[], dict[str, Any]]) -> int:
    """One of the whole-split checks (a variant against the shipped network on valid and test): print, save."""
    import json
    from pathlib import Path

    report = check()
    print(json.dumps(report, indent=2))
    Path(out).write_text(json.dumps({key: report}, indent=2))
    return 0


def run_decode(out: str, runs: int) -> int:
    import json
    from pathlib import Path

    from ..bench.decode import bench_decode

    rows = with_inputs(lambda inputs: bench_decode({k: v for k, v in inputs.items() if k.endswith(".mp3")}, runs))
    for row in rows:
        print(json.dumps(row))
    Path(out).write_text(json.dumps({"decode": rows}, indent=2))
    return 0


def run_tag_full(out: str, count: int) -> int:
    import json
    import tempfile
    from pathlib import Path

    from ..bench.tagging import bench_full_tagging

    with tempfile.TemporaryDirectory() as folder:
        result = bench_full_tagging(Path(folder), count)
    print(json.dumps(result, indent=2))
    Path(out).write_text(json.dumps({"tag_full": result}, indent=2))
    return 0


def with_inputs(measure):  # noqa: ANN001, ANN201 (a callable over the bench's input files, and its result)
    """`measure` over the bench's 30-s and 4-min files, made in a folder removed afterwards."""
    import tempfile
    from pathlib import Path

    from ..bench import make_inputs

    with tempfile.TemporaryDirectory() as folder:
        return measure(make_inputs(Path(folder)))
