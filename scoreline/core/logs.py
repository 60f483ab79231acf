"""One logging setup for every Scoreline process: timestamped lines (UTC, ISO 8601, milliseconds) on stderr,
or one JSON object per line with ``SCORELINE_LOG_FORMAT=json``; ``SCORELINE_LOG_LEVEL`` sets the level.

Uvicorn's own loggers (startup, errors, access) go through the same handler, so every line of a service's
log can be correlated with the others'.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import IO, Any, Literal

from scoreline.core.settings import ScorelineSettings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(service)s %(name)s: %(message)s"
# uvicorn's loggers: they keep no handlers of their own and reach the root's.
FOREIGN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "scoreline")
# Libraries that log every request at INFO: only their warnings are kept.
CHATTY_LOGGERS = ("httpx", "httpcore", "urllib3")
# LogRecord's own attributes; anything else on a record came as ``extra=`` and goes into the JSON object.
_RECORD_FIELDS = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "service"}


class LogSettings(ScorelineSettings):
    log_level: str = "INFO"
    log_format: Literal["text", "json"] = "text"


def utc_timestamp(created: float) -> str:
    return datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _ServiceFilter(logging.Filter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def filter(self, record: logging.LogRecord) -> bool:
        record.service = self.service
        return True


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__(TEXT_FORMAT)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        return utc_timestamp(record.created)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": utc_timestamp(record.created),
            "level": record.levelname,
            "service": getattr(record, "service", None),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS and not k.startswith("_")})
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, settings: LogSettings | None = None, stream: IO[str] | None = None) -> None:
    """Route every log record of this process through one timestamped handler (replacing earlier ones)."""
    settings = settings or LogSettings()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if settings.log_format == "json" else TextFormatter())
    handler.addFilter(_ServiceFilter(service))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.log_level.upper())
    for name in FOREIGN_LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))
