"""Test-only helpers for the Elasticsearch stand-in (osmem, DESIGN.md §6).

osmem rejects the official client's compatibility media types, so tests connect through
``PlainJsonNode``, which sends plain ``application/json``. Production code is unchanged: tests pass
the node class to the client, and server processes started by tests install it as the default node
class with ``install_plain_json_default`` (see ``tests/es_launch.py``).

``TcpProxy`` is a small loopback TCP proxy to cut and restore the path to osmem (which keeps data
only in memory, so it cannot be restarted).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

from elastic_transport import HttpHeaders, Urllib3HttpNode

from tests.servers import free_port


def _plain(headers: Any) -> HttpHeaders:
    plain = HttpHeaders(headers or {})
    for name in ("accept", "content-type"):
        value = plain.get(name)
        if value and "vnd.elasticsearch" in value:
            plain[name] = "application/x-ndjson" if "x-ndjson" in value else "application/json"
    return plain


class PlainJsonNode(Urllib3HttpNode):
    """Urllib3 node that rewrites ``application/vnd.elasticsearch+json; compatible-with=9`` to plain JSON."""

    def perform_request(self, method: str, target: str, body: bytes | None = None, headers: Any = None, **kwargs: Any):  # type: ignore[no-untyped-def]
        return super().perform_request(method, target, body=body, headers=_plain(headers), **kwargs)


def install_plain_json_default() -> None:
    """Make every urllib3 node in this process send plain JSON (test launcher of server processes only)."""
    original = Urllib3HttpNode.perform_request

    def perform_request(
        self: Urllib3HttpNode, method: str, target: str, body: bytes | None = None, headers: Any = None, **kwargs: Any
    ):  # type: ignore[no-untyped-def]
        return original(self, method, target, body=body, headers=_plain(headers), **kwargs)

    Urllib3HttpNode.perform_request = perform_request  # type: ignore[method-assign]


def es_client(url: str, **kwargs: Any) -> Any:
    from elasticsearch import Elasticsearch

    return Elasticsearch(url, node_class=PlainJsonNode, **kwargs)


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target; ``stop()`` refuses connections and cuts open ones.

    ``upload_s_per_mib`` makes the target slow in proportion to what it is sent (a server that indexes
    at a fixed rate): each chunk from the client is held that long per MiB before it is forwarded.
    """

    def __init__(
        self, target_host: str, target_port: int, port: int | None = None, *, upload_s_per_mib: float = 0.0
    ) -> None:
        self.target = (target_host, target_port)
        self.upload_s_per_mib = upload_s_per_mib
        self.port = port or free_port()
        self._listener: socket.socket | None = None
        self._sockets: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._accepting: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> TcpProxy:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        self._accepting = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._accepting.start()
        return self

    def stop(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        if self._accepting is not None:
            self._accepting.join(timeout=5)
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets.update((client, upstream))
            for source, sink, s_per_mib in ((client, upstream, self.upload_s_per_mib), (upstream, client, 0.0)):
                threading.Thread(target=self._pipe, args=(source, sink, s_per_mib), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, s_per_mib: float) -> None:
        try:
            while data := source.recv(65536):
                if s_per_mib:
                    time.sleep(s_per_mib * len(data) / (1 << 20))
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> TcpProxy:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
