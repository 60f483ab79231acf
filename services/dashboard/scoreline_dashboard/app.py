"""The Streamlit entry point: one multipage app (``python -m scoreline_dashboard`` runs it)."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

PAGES = Path(__file__).parent / "screens"

st.set_page_config(page_title="Scoreline", page_icon=":material/sports_soccer:", layout="wide")
navigation = st.navigation(
    [
        st.Page(PAGES / "predict.py", title="Predict", icon=":material/target:", default=True, url_path="predict"),
        st.Page(PAGES / "batch.py", title="Batch", icon=":material/upload_file:", url_path="batch"),
        st.Page(PAGES / "models.py", title="Models", icon=":material/model_training:", url_path="models"),
        st.Page(PAGES / "data.py", title="Data", icon=":material/dataset:", url_path="data"),
        st.Page(PAGES / "monitoring.py", title="Monitoring", icon=":material/monitoring:", url_path="monitoring"),
    ]
)
navigation.run()
