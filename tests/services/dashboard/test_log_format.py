"""The dashboard's Streamlit lines carry a timestamp and a level."""

from __future__ import annotations


def test_the_dashboard_asks_streamlit_for_timestamped_lines() -> None:
    from scoreline_dashboard.__main__ import streamlit_argv
    from scoreline_dashboard.settings import DashboardSettings

    argv = streamlit_argv(DashboardSettings())
    assert "%(asctime)s" in argv[argv.index("--logger.messageFormat") + 1]
