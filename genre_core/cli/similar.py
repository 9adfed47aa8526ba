"""`similar`: the songs of a tagged library that sound most like each query (a file of the table, or any file)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
from pathlib import Path

from ..errors import GenreCoreError, UsageError
from .options import add_model

FIELDS = ("path", "similarity", "genre", "mood", "artist", "title")


def add_parser(sub: argparse._SubParsersAction, name: str) -> None:
    s = sub.add_parser(name, help="the songs of a tagged library most like each query (a file of it, or any file)")
    s.add_argument("query", nargs="+", help="audio files: of the table, or new ones (classified on the fly)")
    s.add_argument("--library", required=True, metavar="TABLE", help="the Parquet/CSV made by `tag`")
    s.add_argument("-k", type=int, default=10, help="how many similar songs per query (default 10)")
    s.add_argument("--genre", default=None, help="only songs of this genre (as in the table, e.g. jazz)")
    s.add_argument("--mood", default=None, help="only songs of this mood (e.g. calm, or 'calm / relaxed')")
    s.add_argument("--not-same-artist", action="store_true", help="leave out the query's own artist")
    s.add_argument("--format", choices=("text", "json", "csv"), default="text")
    add_model(s, help="the model that made the table (default: the default model); new files are classified by it")
    s.set_defaults(run=run)


def query_vector(index, path: str, model: str | None) -> tuple:
    """(embedding, its row in the table or None, its artist): from the table, else by classifying the file."""
    from ..export import cell_text
    from ..tags.albums import read_album_tags

    position = index.position(path)
    if position is not None:
        return index.vectors[position], position, cell_text(index.rows.iloc[position].get("artist"))
    classifier = query_classifier(index, model)
    try:
        prediction = classifier.predict(path)
    except GenreCoreError as exc:
        raise UsageError(f"cannot use '{path}' as a query: {exc}") from exc
    return prediction.embedding, None, read_album_tags(path).get("artist")


_classifiers: dict = {}


def query_classifier(index, model: str | None):
    """The table's own model (checked by its id), loaded once."""
    from ..classifier import GenreClassifier
    from ..table_io import model_id

    if model not in _classifiers:
        found = model_id(model)
        if found != index.model_id:
            raise UsageError(
                f"'{index.table}' was made by model {index.model_id}, and --model gives {found}: their embeddings "
                "cannot be compared; pass the model that made the table, or tag the library with this one"
            )
        classifier = GenreClassifier.load(model, device="cpu")
        if classifier.song_embedding is None:
            raise UsageError(f"{model or 'the default model'} has no song embedding: `similar` cannot compare with it")
        _classifiers[model] = classifier
    return _classifiers[model]


def run(args: argparse.Namespace) -> int:
    from ..config import display_genre
    from ..similarity import LibraryIndex, similar

    if args.k < 1:
        raise UsageError("-k must be at least 1")
    for path in args.query:
        if not Path(path).is_file():
            raise UsageError(f"no file at '{path}'")
    index = LibraryIndex.open(args.library)
    results = []
    for path in args.query:
        vector, position, artist = query_vector(index, path, args.model)
        found = similar(
            index,
            vector,
            args.k,
            exclude=position,
            genre=args.genre,
            mood=args.mood,
            artist=artist if args.not_same_artist else None,
        )
        results.append({"query": str(Path(path).absolute()), "similar": found})
    if args.format == "json":
        print(json.dumps(results, indent=2, ensure_ascii=False))
    elif args.format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(["query", "rank", *FIELDS])
        for result in results:
            for rank, song in enumerate(result["similar"], start=1):
                writer.writerow([result["query"], rank, *(song[f] for f in FIELDS)])
    else:
        for result in results:
            print(result["query"])
            for song in result["similar"]:
                name = " - ".join(p for p in (song["artist"], song["title"]) if p) or Path(song["path"]).name
                genre = display_genre(song["genre"]) if song["genre"] else "-"
                print(f"  {song['similarity']:.3f}  {genre:<9}  {song['mood'] or '-':<18}  {name}")
                print(f"         {song['path']}")
            if not result["similar"]:
                print("  (no song of the library passes the filters)")
    return 0
