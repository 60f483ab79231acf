"""``python -m scoreline_ingest``: serve ingest on ``SCORELINE_INGEST_HOST:SCORELINE_INGEST_PORT``."""

from __future__ import annotations

from scoreline_kit.app import serve

from scoreline_ingest.settings import IngestSettings


def main() -> None:
    settings = IngestSettings()
    serve("scoreline_ingest.app:create_app", settings.ingest_host, settings.ingest_port)


if __name__ == "__main__":
    main()
