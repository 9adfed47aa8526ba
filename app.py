"""Streamlit entry: page config, the shared sidebar, and navigation.

Run with `streamlit run app.py`. The pages only draw what genre_core computes.
"""

import streamlit as st

from pages.ui.entry import app_pages, through_app
from pages.ui.state import sidebar

st.set_page_config(page_title="Genre classifier", page_icon=":material/graphic_eq:", layout="wide")
through_app()  # before any widget: a fresh server runs this file the legacy way first

st.session_state["settings"] = sidebar()
navigation = st.navigation(app_pages())
navigation.run()
