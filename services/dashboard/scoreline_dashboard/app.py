"""The Streamlit entry point: one multipage app (``python -m scoreline_dashboard`` runs it)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).parent / "pages"

st.set_page_config(page_title="Scoreline", page_icon="⚽", layout="wide")
navigation = st.navigation(
    [
        st.Page(PAGES / "predict.py", title="Predict", icon="🎯", default=True, url_path="predict"),
        st.Page(PAGES / "batch.py", title="Batch", icon="📄", url_path="batch"),
        st.Page(PAGES / "models.py", title="Models", icon="🏷️", url_path="models"),
        st.Page(PAGES / "data.py", title="Data", icon="🗂️", url_path="data"),
        st.Page(PAGES / "monitoring.py", title="Monitoring", icon="📈", url_path="monitoring"),
    ]
)
navigation.run()
