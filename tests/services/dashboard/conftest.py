"""Dashboard test helpers: run a page with ``AppTest`` against services chosen by environment variables."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import scoreline_dashboard
from streamlit.testing.v1 import AppTest

PAGES = Path(scoreline_dashboard.__file__).parent / "screens"
PAGE_NAMES = ("predict", "batch", "models", "data", "monitoring")


@pytest.fixture
def run_page(monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """Run one page script with the given SCORELINE_* environment; the Streamlit cache starts empty."""
    import streamlit as st

    def run(name: str, env: dict[str, str], timeout_s: float = 60.0) -> AppTest:
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        st.cache_data.clear()
        app = AppTest.from_file(str(PAGES / f"{name}.py"), default_timeout=timeout_s)
        return app.run()

    return run
