"""`python -m genre_core bench` and its measurements: none of it is on the way from a file to a genre.

`core` times the project's pipeline against the reference app's in one run (the ratios the README
quotes); the other modules each measure one question on demand: `stages` (where a song's time goes),
`precision` and `int8` (lower-precision exports), `distilled` and `coarse` (fewer multiply-adds),
`batch` (windows per ONNX Runtime pass against peak memory), `decode` (libsndfile against PyAV),
`tagging` (full-song `tag` throughput), `similar` (the song-embedding search).
"""

from .core import make_inputs, rss_bytes, run_bench

__all__ = ["make_inputs", "rss_bytes", "run_bench"]
