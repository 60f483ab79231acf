"""The ingest service's one settings object (``SCORELINE_*`` environment variables)."""

from __future__ import annotations

from pathlib import Path

from scoreline.core.outbound import FetchPolicy
from scoreline.core.settings import AuthSettings, StorageSettings
from scoreline_ingest.notify import NotifySettings


class IngestSettings(StorageSettings, AuthSettings, NotifySettings):
    ingest_host: str = "127.0.0.1"
    ingest_port: int = 8001
    max_upload_bytes: int = 256 * 1024 * 1024  # uploads and URL downloads beyond this are refused with 413
    url_timeout_s: float = 30.0  # total deadline for pulling a dataset from a URL (connect to last byte)
    url_max_redirects: int = 5
    # URL pulls may reach loopback/private/link-local hosts only when this is true (tests, one-machine setups)
    url_allow_private_hosts: bool = False
    url_allowed_hosts: list[str] = []  # host names allowed even when private (e.g. an in-cluster file server)
    staging_dir: Path | None = None  # where uploads are streamed before validation; None = system temp

    def fetch_policy(self) -> FetchPolicy:
        """The outbound-fetch policy of URL pulls (``scoreline.core.outbound``)."""
        return FetchPolicy(
            deadline_s=self.url_timeout_s,
            max_bytes=self.max_upload_bytes,
            max_redirects=self.url_max_redirects,
            allow_private_hosts=self.url_allow_private_hosts,
            allowed_hosts=frozenset(h.lower() for h in self.url_allowed_hosts),
        )
