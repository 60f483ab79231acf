"""The dashboard's HTTP access goes through ``scoreline_client`` (one client per Scoreline service, one
error type). Every timeout, refused connection, 4xx and 5xx is a ``ServiceCallError`` (``ServiceError``)
whose message names the service, its address and the setting to fix; pages only catch that one type.

Interactive calls are tried once: a person is waiting and can try again.
"""

from __future__ import annotations

from scoreline_client import ServiceError, ServiceHttp
from scoreline_client.http import Key

ServiceCallError = ServiceError  # the name the pages catch

__all__ = ["ServiceCallError", "ServiceError", "interactive_http"]


def interactive_http(
    service: str, base_url: str, timeout_s: float, *, setting: str, api_key: Key = None, admin_key: Key = None
) -> ServiceHttp:
    """JSON over HTTP to a service, tried once (the transport under the dashboard's service clients)."""
    return ServiceHttp(
        service, base_url, timeout_s=timeout_s, attempts=1, setting=setting, api_key=api_key, admin_key=admin_key
    )
