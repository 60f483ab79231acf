"""``python -m scoreline_dashboard``: run the Streamlit app on the configured host and port."""

from __future__ import annotations

import sys
from pathlib import Path

from scoreline_dashboard.settings import DashboardSettings

APP = Path(__file__).parent / "app.py"


def streamlit_argv(settings: DashboardSettings) -> list[str]:
    return [
        "streamlit",
        "run",
        str(APP),
        "--server.port",
        str(settings.dashboard_port),
        "--server.address",
        settings.dashboard_host,
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        "--global.developmentMode",
        "false",
        "--client.toolbarMode",
        "viewer",
    ]


def main() -> None:
    from streamlit.web import cli

    sys.argv = streamlit_argv(DashboardSettings())
    sys.exit(cli.main())


if __name__ == "__main__":
    main()
