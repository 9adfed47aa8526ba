"""Pretrained weights: converting MSD_musicnn from the `musicnn` wheel, once.

The TensorFlow side (`export_tf.py`) runs in a throw-away environment and
writes plain numpy arrays; this module maps them onto `genre_core.musicnn.Musicnn`
and saves a torch state dict with its provenance beside it.
"""
