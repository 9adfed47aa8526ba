"""Streamlit entry: page config, the shared sidebar, and navigation.

Run with `streamlit run app.py`. The pages only draw what genre_core computes.
"""

import streamlit as st

from pages.state import sidebar

st.set_page_config(page_title="Genre classifier", page_icon=":material/graphic_eq:", layout="wide")

st.session_state["settings"] = sidebar()
navigation = st.navigation(
    [
        st.Page("pages/dashboard.py", title="Dashboard", icon=":material/headphones:", default=True),
        st.Page("pages/how_it_works.py", title="How it works", icon=":material/schema:"),
        st.Page("pages/model.py", title="Model", icon=":material/leaderboard:"),
        st.Page("pages/about.py", title="About", icon=":material/info:"),
    ]
)
navigation.run()
