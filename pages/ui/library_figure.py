"""The Library page's map: every song of a tagged library, the query and its nearest songs marked."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from genre_core.config import display_genre

from .figures import AREA_COLOURS


def library_map(library: Any, colour: str, neighbours: np.ndarray, query_xy: np.ndarray, title: str) -> go.Figure:
    """Every song of a library at its place on the map, coloured by genre or mood; the query and its neighbours marked.

    WebGL scatter (`Scattergl`): 10,000 points stay smooth to pan and hover.
    """
    rows = library.index.rows
    values = rows[colour].fillna("—").astype(str) if colour in rows else pd.Series(["—"] * len(rows))
    names = [display_genre(v) if colour == "genre" else v for v in values]
    fig = go.Figure()
    for i, name in enumerate(sorted(set(names))):
        members = np.flatnonzero(np.asarray(names) == name)
        fig.add_trace(
            go.Scattergl(
                x=library.coordinates[members, 0],
                y=library.coordinates[members, 1],
                mode="markers",
                name=name,
                marker=dict(size=8, color=AREA_COLOURS[i % len(AREA_COLOURS)], opacity=0.8),
                text=[library.labels[m] for m in members],
                hovertemplate="%{text}<br>" + name + "<extra></extra>",
            )
        )
    if len(neighbours):
        fig.add_trace(
            go.Scattergl(
                x=library.coordinates[neighbours, 0],
                y=library.coordinates[neighbours, 1],
                mode="markers",
                name="most similar",
                marker=dict(size=15, color="rgba(0,0,0,0)", line=dict(width=2, color="#ff4b4b")),
                text=[library.labels[m] for m in neighbours],
                hovertemplate="%{text}<extra>most similar</extra>",
            )
        )
    fig.add_trace(
        go.Scattergl(
            x=[float(query_xy[0])],
            y=[float(query_xy[1])],
            mode="markers",
            name="query",
            marker=dict(size=18, symbol="star", color="#ff4b4b", line=dict(width=1, color="white")),
            text=[title],
            hovertemplate="%{text}<extra>query</extra>",
        )
    )
    fig.update_layout(
        height=520,
        margin=dict(l=10, r=10, t=10, b=10),
        xaxis=dict(visible=False),
        yaxis=dict(visible=False, scaleanchor="x"),
        legend=dict(itemsizing="constant"),
    )
    return fig
