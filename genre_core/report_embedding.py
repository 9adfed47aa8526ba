"""The song embedding's figures for docs/model.md and the model card (`report --write`)."""

from __future__ import annotations

from typing import Any


def _pct(value: Any) -> str:
    return "—" if value is None else f"{100 * value:.1f}%"


def embedding_text(embedding: dict[str, Any]) -> str:
    """How the embedding was chosen, each candidate on valid, the shipped one and the baselines on test, the map."""
    info = embedding.get("info") or {}
    chosen = info.get("chosen")
    rows = [
        f"Similar songs (`similar`, `playlist`, the Library page): the song embedding is **{chosen}** "
        f"({len(embedding.get('mean', []))} numbers: {' + '.join(embedding.get('inputs', []))}, z-scored on train, "
        f"unit length; cosine similarity). Chosen by {info.get('chosen_by')}. Measured by "
        "`python -m genre_core embedding --manifest ../shared/data/manifest.csv`; test was read once, for the "
        "shipped embedding and the baselines.",
        "",
        "| embedding | split | same genre in 5 nearest | in 10 nearest | artist in top 10 | other music: same family "
        "in 5 nearest |",
        "|---|---|---|---|---|---|",
    ]
    for split in ("valid", "test"):
        for name, r in (info.get(split) or {}).items():
            family = r.get("other_music_same_family_at_5")
            rows.append(
                f"| {name} | {split} | {_pct(r['same_genre_at_5'])} | {_pct(r['same_genre_at_10'])} | "
                f"{_pct(r['artist_in_top_10'])} (of {r['artist_queries']}) | "
                + (f"{_pct(family)} (of {r.get('other_music_queries')})" if family is not None else "—")
                + " |"
            )
    test = (info.get("test") or {}).get(chosen) or {}
    by_source = test.get("same_genre_at_5_by_source") or {}
    rows += [
        "",
        "On test, same genre in the 5 nearest by source: "
        + ", ".join(f"{s} {_pct(v)}" for s, v in by_source.items())
        + ". The pool of neighbours is train + the query's split with other music in it (a mixed library); a query "
        "is never its own neighbour. `shipped` rows use the stored train statistics; the candidates are z-scored "
        "on their pool.",
    ]
    m = info.get("map") or {}
    if m:
        rows += [
            "",
            f"The Library page's map: on {m['songs']['count']} train + valid songs, a song's nearest on the map "
            f"shares its genre {_pct(m['tsne']['same_genre_nearest'])} of the time with t-SNE, "
            f"{_pct(m['pca']['same_genre_nearest'])} with PCA ({_pct(m['embedding_space']['same_genre_nearest'])} "
            f"in the embedding itself). t-SNE took {m['tsne']['seconds']:.1f} s here and "
            f"{m['tsne'].get('seconds_10000_songs', float('nan')):.1f} s for 10,000 songs (PCA: "
            f"{m['pca'].get('seconds_10000_songs', float('nan')):.2f} s), so `tag` computes the t-SNE map once per "
            "run and stores it in the table.",
        ]
    return "\n".join(rows)
