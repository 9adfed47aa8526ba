"""About: the project, its data and their faults, licences, the command line."""

from __future__ import annotations

import streamlit as st

from pages.ui.entry import through_app

through_app()

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

### Two models
- **Transfer CRNN** (`musicnn_crnn`): the front and mid end of **MSD_musicnn** (Pons & Serra, 2019),
  pretrained on the Million Song Dataset's last.fm tags and ported to PyTorch (proven equal to the
  original TensorFlow network by a stored fixture), followed by a bidirectional GRU trained here.
  Its original tag head also gives each song its top MSD tags.
- **Fast CRNN** (`crnn`): four conv blocks and a two-layer bidirectional GRU on its own 22050 Hz
  log-mel input, with 3.6× fewer parameters than the transfer CRNN. It learned from the transfer CRNN's window
  probabilities as well as the genre labels (distillation), which made it clearly better than the same
  network trained on the labels alone; still less accurate than the transfer CRNN.

The Model page compares them on the same test split.

### Licences
The code is MIT-licensed (`LICENSE`). The MSD_musicnn weights are ISC-licensed (© Music Technology
Group, Universitat Pompeu Fabra, 2019; `models/MUSICNN_NOTICE.md`). GTZAN is distributed for research
use. 4Q previews are copyrighted 30-s AllMusic previews released as a research dataset; Emotify
excerpts come from Magnatune (Creative Commons). The audio is not redistributed with this app; only
the trained weights are, for research and personal use (`NOTICE` lists each model file's terms).

### Command line
The same library runs without the app:
```bash
python -m genre_core predict song.mp3 --top-k 3
python -m genre_core predict music_folder/ --format csv > genres.csv
python -m genre_core predict song.m4a --aggregate median --windows first30 --format json
python -m genre_core predict song.mp3 --model crnn      # the fast model
```
Exit code 0 means every file was classified, 1 that some failed (each has its error), 2 a usage error.
"""
)
