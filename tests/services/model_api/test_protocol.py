"""model-api's HTTP protocol (scoreline_model_api.protocol): a response's head and body leave in one write, and
everything uvicorn does on a connection still works: keep-alive, pipelined requests, streamed bodies, close."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from scoreline_model_api.protocol import PairedWrites
from scoreline_model_api.workers import HTTP_PROTOCOL
from starlette.types import Receive, Scope, Send

from tests.servers import free_port


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body", False):
            break
    if scope["path"] == "/stream":  # three chunks, the task yielding between them
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for chunk in (b"one ", b"two ", b"three"):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b""})
        return
    answer = b"echo:" + body
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(answer)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": answer})


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    chosen = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=chosen, loop="uvloop", http=HTTP_PROTOCOL, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield chosen
    server.should_exit = True
    thread.join(10)


def read_until(sock: socket.socket, ending: bytes, count: int = 1) -> bytes:
    data = b""
    while data.count(ending) < count:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def post(path: str, body: bytes, *, close: bool = False) -> bytes:
    extra = b"Connection: close\r\n" if close else b""
    return b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n%s\r\n%s" % (path.encode(), len(body), extra, body)


def test_pipelined_keep_alive_requests_get_whole_answers_in_order(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"".join(post("/", b"request-%d" % n) for n in range(5)))
        data = read_until(sock, b"echo:request-4")
    answers = [part for part in data.split(b"HTTP/1.1 200 OK") if part]
    assert len(answers) == 5
    for n, answer in enumerate(answers):
        assert answer.endswith(b"\r\n\r\necho:request-%d" % n), answer


def test_a_streamed_body_and_a_closing_request_are_complete(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(post("/stream", b""))
        streamed = read_until(sock, b"0\r\n\r\n")
        assert b"transfer-encoding: chunked" in streamed
        assert streamed.endswith(b"4\r\none \r\n4\r\ntwo \r\n5\r\nthree\r\n0\r\n\r\n")
        sock.sendall(post("/", b"last", close=True))
        closing = b""
        while chunk := sock.recv(65536):  # the server closes after the answer: everything arrives, then EOF
            closing += chunk
    assert closing.endswith(b"\r\n\r\necho:last")


def test_paired_writes_join_two_writes_flush_a_lone_one_and_flush_before_close() -> None:
    async def scenario() -> list[bytes]:
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair()
        theirs.setblocking(False)
        transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
        paired = PairedWrites(transport, loop)  # type: ignore[arg-type]
        received: list[bytes] = []
        paired.write(b"head|")
        paired.write(b"body")  # joined with the held head
        paired.write(b"lone")  # held until the loop's next turn
        await asyncio.sleep(0.05)
        paired.write(b"last")
        paired.close()  # the held write goes out before the close
        await asyncio.sleep(0.05)
        with contextlib.suppress(BlockingIOError):
            while chunk := theirs.recv(65536):
                received.append(chunk)
        theirs.close()
        return received

    assert b"".join(asyncio.run(scenario())) == b"head|bodylonelast"
