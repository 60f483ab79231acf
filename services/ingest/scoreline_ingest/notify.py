"""Announce new dataset versions to a configurable URL, by default Airflow's REST API.

With ``SCORELINE_NOTIFY_URL=http://airflow:8080/api/v2/dags/{dag_id}/dagRuns`` a new version of
``match-outcome`` triggers the DAG ``scoreline_train_match_outcome`` with
``conf = {task, dataset, version}``. Credentials are either a bearer token
(``SCORELINE_NOTIFY_TOKEN``) or a username and password exchanged for an Airflow 3 JWT at
``/auth/token``. Notifications are sent from a background thread and retried with backoff; a
failure is logged and counted, never raised into the ingest that caused it.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlparse

import httpx
from pydantic import SecretStr

from scoreline.core.settings import ScorelineSettings

log = logging.getLogger("scoreline.ingest.notify")


class NotifySettings(ScorelineSettings):
    # Placeholders: {dag_id}, {task}, {dataset}, {version}. Unset → no notification.
    notify_url: str | None = None
    notify_token: SecretStr | None = None
    notify_username: str | None = None
    notify_password: SecretStr | None = None
    notify_token_url: str | None = None  # default: <scheme>://<host>/auth/token of notify_url (Airflow 3)
    notify_retries: int = 5
    notify_backoff_s: float = 2.0
    notify_timeout_s: float = 10.0


def train_dag_id(task: str) -> str:
    return f"scoreline_train_{task.replace('-', '_')}"


@dataclass(frozen=True)
class DatasetEvent:
    task: str
    dataset: str
    version: str

    @property
    def dag_run_id(self) -> str:
        # Deterministic, so a repeated notification is answered 409 by Airflow instead of a second run.
        return f"ingest__{self.task}__{self.dataset}__{self.version}"

    def payload(self) -> dict[str, object]:
        return {
            "dag_run_id": self.dag_run_id,
            "logical_date": None,
            "conf": {"task": self.task, "dataset": self.dataset, "version": self.version},
        }


class Notifier:
    """A background sender. ``submit`` never blocks and never raises."""

    def __init__(self, settings: NotifySettings, client: httpx.Client | None = None) -> None:
        self.settings = settings
        self._client = client
        self._queue: queue.Queue[DatasetEvent | None] = queue.Queue(maxsize=1000)
        self._thread: threading.Thread | None = None
        self._token: str | None = None
        self.sent = 0
        self.failed = 0
        self.idle = threading.Event()
        self.idle.set()

    @property
    def enabled(self) -> bool:
        return bool(self.settings.notify_url)

    def start(self) -> None:
        if self.enabled and self._thread is None:
            self._thread = threading.Thread(target=self._run, name="scoreline-notifier", daemon=True)
            self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout_s)
            self._thread = None

    def submit(self, event: DatasetEvent) -> None:
        if not self.enabled:
            return
        self.start()
        try:
            self.idle.clear()
            self._queue.put_nowait(event)
        except queue.Full:
            self.failed += 1
            log.error("notification queue full; dropped the announcement of %s", event)

    # ---- worker --------------------------------------------------------------------------
    def _run(self) -> None:
        client = self._client or httpx.Client(timeout=self.settings.notify_timeout_s)
        try:
            while True:
                event = self._queue.get()
                if event is None:
                    return
                if self.deliver(client, event):
                    self.sent += 1
                else:
                    self.failed += 1
                if self._queue.empty():
                    self.idle.set()
        finally:
            if self._client is None:
                client.close()

    def deliver(self, client: httpx.Client, event: DatasetEvent) -> bool:
        """POST the event, retrying with exponential backoff; True when the receiver accepted it."""
        settings = self.settings
        assert settings.notify_url is not None
        url = settings.notify_url.format(
            dag_id=train_dag_id(event.task), task=event.task, dataset=event.dataset, version=event.version
        )
        delay = settings.notify_backoff_s
        for attempt in range(1, settings.notify_retries + 1):
            try:
                response = client.post(url, json=event.payload(), headers=self._headers(client))
                if response.status_code == 401 and self._token is not None:
                    self._token = None  # expired JWT: log in again on the next attempt
                if response.status_code < 300 or response.status_code == 409:
                    log.info("announced %s to %s (%s)", event, url, response.status_code)
                    return True
                log.warning("notify %s: attempt %d answered %s: %s", url, attempt, response.status_code,
                            response.text[:300])  # fmt: skip
            except (httpx.HTTPError, KeyError, ValueError) as exc:  # unreachable, or a login answer without a token
                log.warning("notify %s: attempt %d failed: %r", url, attempt, exc)
            if attempt < settings.notify_retries:
                time.sleep(delay)
                delay *= 2
        log.error("gave up announcing %s to %s after %d attempts", event, url, settings.notify_retries)
        return False

    def _headers(self, client: httpx.Client) -> dict[str, str]:
        settings = self.settings
        if settings.notify_token is not None:
            return {"Authorization": f"Bearer {settings.notify_token.get_secret_value()}"}
        if settings.notify_username and settings.notify_password is not None:
            if self._token is None:
                self._token = self._login(client)
            return {"Authorization": f"Bearer {self._token}"}
        return {}

    def _login(self, client: httpx.Client) -> str:
        settings = self.settings
        assert settings.notify_url is not None and settings.notify_password is not None
        token_url = settings.notify_token_url
        if token_url is None:
            parsed = urlparse(settings.notify_url)
            token_url = f"{parsed.scheme}://{parsed.netloc}/auth/token"
        response = client.post(
            token_url,
            json={"username": settings.notify_username, "password": settings.notify_password.get_secret_value()},
        )
        response.raise_for_status()
        return str(response.json()["access_token"])
