"""The app's pages, and the way every page is entered: through `app.py`, even on a fresh server.

Streamlit treats a folder named `pages/` beside the entry script as its legacy multipage
layout until `st.navigation` has been called once in the process: until then a page URL
such as `/how_it_works` runs `pages/how_it_works.py` on its own, without the sidebar and
navigation that `app.py` builds (a bookmark opened right after a restart broke the page).
Even `/` runs app.py as a legacy "page" then, and a widget's identity includes the page
running it, so the first change a user made in the sidebar was lost. So app.py and every
page first call `through_app`: in a legacy run it calls `st.navigation` itself, which ends
the legacy mode for the process, and reruns before any widget is drawn; the rerun is an
ordinary one (app.py, its sidebar, then the page), and every widget has one identity.
"""

from __future__ import annotations

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def app_pages() -> list[st.Page]:
    """The pages, in navigation order (paths relative to app.py)."""
    return [
        st.Page("pages/dashboard.py", title="Dashboard", icon=":material/headphones:", default=True),
        st.Page("pages/how_it_works.py", title="How it works", icon=":material/schema:"),
        st.Page("pages/model.py", title="Model", icon=":material/leaderboard:"),
        st.Page("pages/library.py", title="Library", icon=":material/library_music:"),
        st.Page("pages/about.py", title="About", icon=":material/info:"),
    ]


def through_app() -> None:
    """Call first in app.py and every page: in a legacy-mode run, end that mode and rerun through app.py."""
    # Streamlit's own record of the legacy mode (read, never set here); `st.navigation` clears it.
    if PagesManager.uses_pages_directory:
        st.navigation(app_pages(), position="hidden")
        st.rerun()
