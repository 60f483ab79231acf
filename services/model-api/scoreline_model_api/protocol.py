"""uvicorn's HTTP protocol (httptools) with a response's head and body written to the socket together.

uvicorn writes the status line and headers as soon as the app sends ``http.response.start`` and the body on
``http.response.body``: two writes, and on loopback the first one wakes the client only for it to find half a
response. A single prediction is small, so that extra write and wake-up were a quarter of model-api's main thread
on memo hits (py-spy, benchmarks/serve.py). Here a write is held until the next one, which goes out joined
with it, or until the event loop's next turn, whichever comes first: a write waits at most one turn, and at
most one write is held.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class PairedWrites:
    """A transport whose writes go out in pairs: one is held until the next write or the loop's next turn."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is None:
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
        else:
            self._held = None
            self._transport.write(held + bytes(data))

    def flush(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:  # everything else: the real transport's
        return getattr(self._transport, name)


class PairedWritesProtocol(HttpToolsProtocol):
    """``HttpToolsProtocol`` on :class:`PairedWrites` (pass the class as uvicorn's ``http``)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(PairedWrites(transport, self.loop))  # type: ignore[arg-type]
