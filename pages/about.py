"""About: the project, its data and their faults, licences, the command line."""

from __future__ import annotations

import streamlit as st

st.title("About")
st.markdown(
    """
An open music-genre classifier you can run yourself: upload a song and see which of ten genres
(blues, classical, country, disco, hip-hop, jazz, metal, pop, reggae, rock) it sounds like, how
sure the model is, and which parts of the song point where.

### Data
The model is trained on **GTZAN** (Tzanetakis & Cook, 2002: 30-s excerpts, 10 genres) — the
partial set we could gather — plus genre-tagged previews from two research datasets, **4Q**
(Panda et al., 2018) and **Emotify** (Aljanaki et al., 2016). Splits keep each artist on one
side (Kereliuk, Sturm & Larsen's fault-filtered split for GTZAN).

GTZAN has known faults (Sturm, 2013): repeated artists (35 of its reggae excerpts are Bob
Marley), some mislabelled and some distorted excerpts. The split used here removes the worst of
them, but results on GTZAN alone overstate how well any model does on music in the wild; this
is why the Model page reports the other sources separately.

### Licences
GTZAN is distributed for research use. 4Q previews are copyrighted 30-s AllMusic previews
released as a research dataset; Emotify excerpts come from Magnatune (Creative Commons). The
audio is not redistributed with this app; only the trained weights are.

### Command line
The same library runs without the app:
```bash
python -m genre_core predict song.mp3 --top-k 3
python -m genre_core predict music_folder/ --format csv > genres.csv
python -m genre_core predict song.m4a --aggregate median --windows first30 --format json
```
Exit code 0 means every file was classified, 1 that some failed (each has its error), 2 a usage error.
"""
)
