"""The ingest service's one settings object (``SCORELINE_*`` environment variables)."""

from __future__ import annotations

from pathlib import Path

from scoreline.core.settings import AuthSettings, StorageSettings
from scoreline_ingest.notify import NotifySettings


class IngestSettings(StorageSettings, AuthSettings, NotifySettings):
    ingest_host: str = "127.0.0.1"
    ingest_port: int = 8001
    max_upload_bytes: int = 256 * 1024 * 1024  # uploads and URL downloads beyond this are refused with 413
    url_timeout_s: float = 30.0  # connect and read timeout for pulling a dataset from a URL
    url_max_redirects: int = 5
    staging_dir: Path | None = None  # where uploads are streamed before validation; None = system temp
