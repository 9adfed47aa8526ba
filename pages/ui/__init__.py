"""What the pages share: session state and caching, figures, and the way every page is entered.

A sub-package, not modules beside the pages: Streamlit lists every `pages/*.py` as a page
while it runs the folder the legacy way (see `entry.py`); nothing here is a page.
"""
