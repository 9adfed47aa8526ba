"""Library: a tagged library as a map, and the songs most like one of it (or an uploaded one), with a playlist."""

from __future__ import annotations

import os
import time
from pathlib import Path

import streamlit as st

from genre_core.errors import GenreCoreError, UsageError
from pages.ui import library_figure, library_state
from pages.ui.entry import through_app
from pages.ui.state import escape_markdown

through_app()

st.title("Library")
st.caption(
    "A library tagged with `python -m genre_core tag MUSIC --out library.parquet`: every song placed by how it "
    "sounds, and the songs most like the one you pick."
)

source = st.radio("Table", ["A path on this machine", "Upload a table"], horizontal=True, key="library_source")
if source == "A path on this machine":
    path = st.text_input(
        "Path of the table (Parquet or CSV)",
        value=os.environ.get("GENRE_CORE_LIBRARY", ""),
        key="library_path",
        help="Preset by the GENRE_CORE_LIBRARY environment variable.",
    )
    table = Path(path).expanduser() if path.strip() else None
else:
    upload = st.file_uploader("A table made by `tag`", type=["parquet", "csv"], key="library_upload")
    table = library_state.saved_upload(upload) if upload is not None else None

if table is None:
    st.info("Give the path of a table made by `tag`, or upload one, to see its map.")
    st.stop()

started = time.perf_counter()
try:
    library = library_state.open_library(str(table), *library_state.stamp(table))
except (UsageError, GenreCoreError, OSError) as exc:
    st.error(escape_markdown(str(exc)))
    st.stop()
opened_s = time.perf_counter() - started
index = library.index

colour = st.radio("Colour by", ["genre", "mood"], horizontal=True, key="library_colour")
left, right = st.columns([3, 2])
with right:
    st.subheader("Find similar songs")
    labels = library.labels
    picked = st.selectbox(
        "A song of the library",
        range(len(index)),
        format_func=labels.__getitem__,
        key=f"library_pick:{table}",
        help="Type to search by artist, title or file name.",
    )
    song = st.file_uploader("…or upload a song", type=None, key="library_song")
    k = st.slider("How many", 5, 20, 10, key="library_k")

query, exclude, title = index.vectors[picked], picked, labels[picked]
if song is not None:
    try:
        query = library_state.embed_upload(library, song.getvalue(), song.name)
        exclude, title = None, song.name
    except (UsageError, GenreCoreError) as exc:
        right.error(escape_markdown(str(exc)))
        st.stop()

started = time.perf_counter()
found, order = library_state.neighbours(library, query, k, exclude)
query_ms = 1000 * (time.perf_counter() - started)

with left:
    st.plotly_chart(
        library_figure.library_map(library, colour, order, library.place(query), title),
        width="stretch",
        key="library_map",
    )
    st.caption(
        f"{len(index):,} songs, placed by {library.method} of their embeddings (the genre probabilities and MSD "
        f"tags the model hears): near points sound alike. The star is the query, circled points its {len(found)} "
        "nearest. "
        f"Opened in {opened_s:.2f} s; the search took {query_ms:.0f} ms."
    )

st.markdown(f"**Most like {escape_markdown(title)}**")
st.dataframe(
    library_state.results_frame(found),
    hide_index=True,
    column_config={"similarity": st.column_config.NumberColumn(format="%.3f")},
)
seed = picked if song is None else None
if seed is not None:
    st.download_button(
        f"Download a {library_state.playlist_length(library)}-song playlist (M3U8)",
        library_state.playlist_bytes(library, seed),
        file_name=f"{Path(str(index.rows.iloc[seed]['path'])).stem}-mix.m3u8",
        mime="audio/x-mpegurl",
    )

players = [row for row in found if Path(row["path"]).is_file()]
if players:
    st.subheader("Listen")
    for row in players[:k]:
        st.markdown(f"{row['similarity']:.3f} · {escape_markdown(library_state.song_label(row))}")
        st.audio(row["path"])
else:
    st.caption("The songs' files are not on this machine (an uploaded table): no players.")
