"""`playlist`: an M3U8 playlist from a seed song of a tagged library, each song close to the last and the seed."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import UsageError


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    p = sub.add_parser(name, help="an M3U8 playlist from a seed song of a tagged library")
    p.add_argument("--library", required=True, metavar="TABLE", help="the Parquet/CSV made by `tag`")
    p.add_argument("--seed", required=True, help="a file of the table: the playlist's first song")
    p.add_argument("--length", type=int, default=20, help="songs in the playlist, the seed included (default 20)")
    p.add_argument("--genre", default=None, help="only songs of this genre (the seed is always first)")
    p.add_argument("--mood", default=None, help="only songs of this mood (e.g. calm)")
    p.add_argument("--out", required=True, help="the playlist to write, e.g. mix.m3u8")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ..similarity import LibraryIndex, playlist, write_m3u8

    if args.length < 1:
        raise UsageError("--length must be at least 1")
    if not Path(args.out).parent.is_dir():
        raise UsageError(f"no folder '{Path(args.out).parent}' to write the playlist into")
    index = LibraryIndex.open(args.library)
    seed = index.position(args.seed)
    if seed is None:
        raise UsageError(
            f"'{args.seed}' is not a song of '{args.library}' with an embedding: tag it into the library first"
        )
    order = playlist(index, seed, args.length, args.genre, args.mood)
    out = write_m3u8(index, order, Path(args.out))
    print(f"{out}: {len(order)} songs, from {Path(str(index.rows.iloc[seed]['path'])).name}")
    return 0
