"""Where the transfer CRNN's time goes: per-stage timings and the timbral convolution's formulations.

`python -m genre_core bench --profile` prints these beside the whole-pipeline figures; they
explain the pipeline's numbers rather than being a target of their own.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch

from ..classifier import GenreClassifier


def median_ms(fn: Callable[[], Any], runs: int) -> float:
    """Median wall time of `runs` calls after one warm-up call, in ms."""
    fn()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return round(1000 * statistics.median(times), 1)


@torch.inference_mode()
def model_profile(clf: GenreClassifier, path: Path, runs: int) -> dict[str, float]:
    """Where a musicnn-family model's time goes on ten windows: ms per stage, median of `runs`."""
    features = torch.from_numpy(clf.extract(str(path), "spread")[2])
    net = clf.model
    stages: dict[str, Callable[[], Any]] = {
        "timbral 7x38": lambda: net.musicnn.timbral[0](net.musicnn.input_bn(features.transpose(1, 2).unsqueeze(1))),
        "timbral 7x67": lambda: net.musicnn.timbral[1](net.musicnn.input_bn(features.transpose(1, 2).unsqueeze(1))),
        "temporal 128/64/32x1": lambda: [
            b(net.musicnn.input_bn(features.transpose(1, 2).unsqueeze(1))) for b in net.musicnn.temporal
        ],
        "whole front end": lambda: net.musicnn.frontend(features),
        "whole model + tags": lambda: net.forward_with_tags(features),
        "plain port (no pooling reorder), whole model": lambda: clf.checkpoint.model.forward_with_tags(features),
    }
    return {name: median_ms(fn, runs) for name, fn in stages.items()}


def strided_gemm(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """A one-input-channel conv as one matrix product over a strided view of `x` (no im2col copy)."""
    kh, kw = weight.shape[2:]
    patches = x[:, 0].unfold(1, kh, 1).unfold(2, kw, 1)  # (n, time, freq, kh, kw)
    return patches.reshape(*patches.shape[:3], kh * kw) @ weight.reshape(weight.shape[0], -1).T


@torch.inference_mode()
def timbral_conv_variants(clf: GenreClassifier, path: Path, runs: int) -> dict[str, dict[str, float]]:
    """The two timbral convolutions (~80 % of musicnn's multiply-adds) in each formulation, ms for ten windows.

    fp32 (oneDNN, as shipped), channels-last, a GEMM over a strided view of the input (no im2col copy),
    and int8 (fbgemm, per-channel weights, 7-bit activations; with its max error relative to the fp32 output).
    """
    import warnings

    import torch.ao.nn.quantized as nnq
    import torch.nn.functional as F

    features = torch.from_numpy(clf.extract(str(path), "spread")[2])
    x = F.pad(clf.model.musicnn.input_bn(features.transpose(1, 2).unsqueeze(1)), (0, 0, 3, 3))
    out: dict[str, dict[str, float]] = {}
    for block in clf.model.musicnn.timbral:
        weight, bias = block.weight, block.bias.flatten()
        kh, kw = weight.shape[2:]
        ref = F.conv2d(x, weight, bias)

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch marks its quantized-tensor API deprecated
            torch.backends.quantized.engine = "fbgemm"
            shift = float(-x.min())
            # 7-bit activations (fbgemm's default x86 qconfig, reduce_range): without AVX512-VNNI its kernels add
            # pairs of u8·s8 products in int16 and saturate at 8 bits (max error 19 % on an AVX2-only CPU).
            qx = torch.quantize_per_tensor(x + shift, float((x.max() + shift) / 127), 0, torch.quint8)
            qw = torch.quantize_per_channel(
                weight,
                weight.abs().amax(dim=(1, 2, 3)) / 127,
                torch.zeros(len(weight), dtype=torch.long),
                0,
                torch.qint8,
            )
            qconv = nnq.Conv2d(1, len(weight), (kh, kw))
            # The input shift is undone through the bias: conv(x + s) = conv(x) + s * sum(w).
            qconv.set_weight_bias(qw, bias - shift * weight.sum(dim=(1, 2, 3)))
            qconv.scale, qconv.zero_point = float(ref.abs().max() / 127), 128
            int8_error = float((qconv(qx).dequantize() - ref).abs().max() / ref.abs().max())
        x_cl = x.contiguous(memory_format=torch.channels_last)
        w_cl = weight.contiguous(memory_format=torch.channels_last)
        variants = {
            "fp32": partial(F.conv2d, x, weight, bias),
            "channels_last": partial(F.conv2d, x_cl, w_cl, bias),
            "strided_gemm": partial(strided_gemm, x, weight),
            "int8": partial(qconv, qx),
        }
        row = {f"{name}_ms": median_ms(fn, runs) for name, fn in variants.items()}
        row["int8_max_rel_error"] = round(int8_error, 4)
        out[f"timbral {kh}x{kw}"] = row
    return out
