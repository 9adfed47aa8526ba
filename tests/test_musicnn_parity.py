"""The PyTorch musicnn port computes what the original TensorFlow MSD_musicnn computes.

`tests/data/musicnn_parity.npz` was made once by running the `musicnn` 0.1.0
wheel's own graph (`genre_core/pretrained/export_tf.py`) on a real 3-s patch of
`tests/data/jazz.ogg`; the port, loaded with the shipped converted weights,
must reproduce every stage to 1e-4 of that stage's scale.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from genre_core.models.musicnn import FRONTEND_CHANNELS, MSD_TAGS, Musicnn
from genre_core.models.pretrained.convert import WEIGHTS_PATH, load_pretrained

FIXTURE = Path(__file__).parent / "data" / "musicnn_parity.npz"


@pytest.fixture(scope="module")
def outputs() -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    ref = dict(np.load(FIXTURE))
    model = Musicnn()
    model.load_state_dict(load_pretrained())
    model.eval()
    x = torch.from_numpy(ref["input"].T.copy())[None]  # (1, 96 mels, 187 frames)
    with torch.no_grad():
        front = model.frontend(x)
        embed = model.midend(front)
        pooled = model.pooled(embed)[0].numpy()
        ours = {
            "frontend": front[0].T.numpy()[ref["frames"]],
            "midend": embed[0, FRONTEND_CHANNELS:].T.numpy()[ref["frames"]],
            "max_pool": pooled[0::2],
            "mean_pool": pooled[1::2],
            "penultimate": model.penultimate(embed)[0].numpy(),
            "tags": model(x)[0].numpy(),
        }
    return ours, ref


@pytest.mark.parametrize("stage", ["frontend", "midend", "max_pool", "mean_pool", "penultimate", "tags"])
def test_port_matches_tensorflow(outputs, stage: str) -> None:
    ours, ref = outputs
    assert ours[stage].shape == ref[stage].shape
    scale = max(1.0, float(np.abs(ref[stage]).max()))
    err = float(np.abs(ours[stage] - ref[stage]).max())
    assert err <= 1e-4 * scale, f"{stage}: max error {err:.2e} at scale {scale:.1f}"


def test_fixture_is_a_real_song_the_tags_recognise(outputs) -> None:
    """The fixture clip is jazz; the original and the port both put 'jazz' on top."""
    ours, ref = outputs
    assert MSD_TAGS[int(np.argmax(ref["tags"]))] == "jazz"
    assert MSD_TAGS[int(np.argmax(ours["tags"]))] == "jazz"


def test_converted_weights_carry_their_provenance() -> None:
    payload = torch.load(WEIGHTS_PATH, map_location="cpu", weights_only=True)
    prov = payload["provenance"]
    assert prov["source"] == "musicnn-0.1.0-py3-none-any.whl"
    assert len(prov["source_sha256"]) == 64 and "ISC" in prov["licence"]
    weights = sum(v.numel() for k, v in payload["state_dict"].items() if not k.endswith("num_batches_tracked"))
    assert weights == prov["weights"] == 792_079
