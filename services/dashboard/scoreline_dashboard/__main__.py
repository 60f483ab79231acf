"""``python -m scoreline_dashboard``: run the Streamlit app on the configured host and port."""

from __future__ import annotations

import sys
from pathlib import Path

from scoreline.core.logs import configure_logging
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
        # Streamlit's own lines carry a timestamp and level too (scoreline.* loggers: scoreline.core.logs).
        "--logger.messageFormat",
        "%(asctime)s %(levelname)s dashboard %(name)s: %(message)s",
    ]


def main() -> None:
    from streamlit.web import cli

    configure_logging("dashboard")
    sys.argv = streamlit_argv(DashboardSettings())
    sys.exit(cli.main())


if __name__ == "__main__":
    main()
