"""Read MSD_musicnn out of the `musicnn` wheel with TensorFlow: weights and a parity fixture.

Runs only in a throw-away environment (`requirements-convert.txt`); the project's
runtime and CI never import TensorFlow. It writes two numpy files:

- the checkpoint's 792,079 weights, named and ordered as the original graph creates them;
- a parity fixture: one real input patch and the original graph's front-end,
  mid-end, pooled, penultimate and tag outputs for it (`tests/data/musicnn_parity.npz`).

    TF_USE_LEGACY_KERAS=1 /tmp/tfenv/bin/python genre_core/models/pretrained/export_tf.py WHEEL_DIR OUT_DIR
"""

from __future__ import annotations

import sys
from pathlib import Path

import librosa
import numpy as np

#: Frames of the 187-frame patch kept in the fixture: both padded edges and a sample of the middle.
FIXTURE_FRAMES = np.array(sorted({*range(0, 4), *range(183, 187), *range(0, 187, 9)}))
FIXTURE_CLIP = Path(__file__).resolve().parents[3] / "tests" / "data" / "jazz.ogg"


def input_patch(path: Path) -> np.ndarray:
    """The first 187-frame patch of a clip as musicnn's own `batch_data` makes it, in float32.

    `batch_data` casts the mel power to float16 before the log, which overflows to
    inf wherever a bin's power exceeds 65504 (155 bins of this clip's loud bass);
    genre_core keeps float32, so the fixture does too.
    """
    audio, sr = librosa.load(path, sr=16000)
    rep = librosa.feature.melspectrogram(y=audio, sr=sr, hop_length=256, n_fft=512, n_mels=96).T
    rep = np.log10(10000 * rep + 1)
    return rep[None, :187, :].astype(np.float32)  # (1, time, freq)


def main(wheel_dir: str, out_dir: str) -> None:
    import tensorflow as tf

    sys.path.insert(0, wheel_dir)
    from musicnn import models  # the wheel's own graph definition, unchanged

    tf.compat.v1.disable_eager_execution()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    tf.compat.v1.reset_default_graph()
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, 187, 96])
        is_training = tf.compat.v1.placeholder(tf.bool)
        y, timbral, temporal, cnn1, cnn2, cnn3, mean_pool, max_pool, penultimate = models.define_model(
            x, is_training, "MSD_musicnn", 50
        )
        tags = tf.nn.sigmoid(y)
    variables = [v for v in tf.compat.v1.global_variables() if "Adam" not in v.name and "beta1_power" not in v.name]
    variables = [v for v in variables if "beta2_power" not in v.name]
    sess = tf.compat.v1.Session()
    saver = tf.compat.v1.train.Saver(var_list=variables)
    saver.restore(sess, str(Path(wheel_dir) / "musicnn" / "MSD_musicnn") + "/")
    values = sess.run(variables)
    names = [v.name.split(":")[0] for v in variables]
    total = sum(int(np.prod(v.shape)) for v in values)
    print(f"{len(values)} variables, {total} weights")
    np.savez(
        out / "msd_musicnn_tf.npz", **{f"{i:03d}|{n}": v for i, (n, v) in enumerate(zip(names, values, strict=True))}
    )

    patch = input_patch(FIXTURE_CLIP)
    outs = sess.run(
        [timbral, temporal, cnn1, cnn2, cnn3, mean_pool, max_pool, penultimate, tags],
        feed_dict={x: patch, is_training: False},
    )
    timbral_, temporal_, c1, c2, c3, mean_, max_, pen, tag = outs
    front = np.concatenate([timbral_[0], temporal_[0]], axis=1)  # (time, 561)
    mid = np.concatenate([c1[0, :, :, 0], c2[0, :, :, 0], c3[0, :, :, 0]], axis=1)  # (time, 192)
    np.savez_compressed(
        out / "musicnn_parity.npz",
        input=patch[0],
        frames=FIXTURE_FRAMES,
        frontend=front[FIXTURE_FRAMES],
        midend=mid[FIXTURE_FRAMES],
        mean_pool=mean_[0, :, 0] if mean_.ndim == 3 else mean_[0],
        max_pool=max_[0, :, 0] if max_.ndim == 3 else max_[0],
        penultimate=pen[0],
        tags=tag[0],
    )
    print("front", front.shape, "mid", mid.shape, "tags", tag.shape, "top", np.argsort(-tag[0])[:5])


if __name__ == "__main__":
    main(*sys.argv[1:3])
