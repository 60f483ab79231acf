"""URL pulls under the outbound-fetch policy, against small real HTTP servers on loopback (bounded in time)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from scoreline_ingest.fetch import download

from scoreline.core.errors import ErrorCode, ScorelineError
from scoreline.core.outbound import FetchPolicy

CSV = b"date,home_team,away_team,home_score,away_score,tournament,city,country,neutral\n"
LOCAL = FetchPolicy(deadline_s=5.0, max_bytes=64 * 1024, allow_private_hosts=True)


class RawServer:
    """A TCP server on 127.0.0.1 answering each connection with ``answer(conn)``; records what it was asked."""

    def __init__(self, answer: Callable[[socket.socket], None]) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.2)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            try:
                self.requests.append(conn.recv(65536))
                self.answer(conn)
            except OSError:
                pass

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.sock.close()


@pytest.fixture
def serve() -> Iterator[Callable[[Callable[[socket.socket], None]], RawServer]]:
    servers: list[RawServer] = []

    def start(answer: Callable[[socket.socket], None]) -> RawServer:
        servers.append(RawServer(answer))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def csv_answer(conn: socket.socket) -> None:
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: %d\r\n\r\n%s" % (len(CSV), CSV))


def _fails(url: str, dest: Path, policy: FetchPolicy = FetchPolicy(deadline_s=5.0)) -> ScorelineError:
    with pytest.raises(ScorelineError) as caught:
        download(url, dest, policy=policy)
    assert not dest.exists()
    return caught.value


@pytest.mark.parametrize(
    "host",
    ["127.0.0.1", "localhost", "0.0.0.0", "2130706433", "0x7f000001", "127.1", "[::1]", "[::ffff:127.0.0.1]"],
)
def test_loopback_in_any_spelling_is_refused(serve, tmp_path: Path, host: str) -> None:
    server = serve(csv_answer)
    error = _fails(f"http://{host}:{server.port}/data.csv", tmp_path / "x.csv")
    assert error.code is ErrorCode.INVALID_INPUT
    assert "public" in error.message and ("loopback" in error.message or "unspecified" in error.message)
    assert server.requests == []  # nothing was sent to it


def test_redirect_to_loopback_is_refused(serve, tmp_path: Path) -> None:
    target = serve(csv_answer)

    def redirect(conn: socket.socket) -> None:
        location = f"http://localhost:{target.port}/metrics"
        conn.sendall(f"HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode())

    redirector = serve(redirect)
    allowed_first_hop = FetchPolicy(deadline_s=5.0, allowed_hosts=frozenset({"127.0.0.1"}))
    assert download(f"http://127.0.0.1:{target.port}/a.csv", tmp_path / "ok.csv", policy=allowed_first_hop).size
    before = len(target.requests)
    error = _fails(f"http://127.0.0.1:{redirector.port}/a.csv", tmp_path / "x.csv", allowed_first_hop)
    assert "'localhost' is a loopback address" in error.message
    assert len(redirector.requests) == 1 and len(target.requests) == before


def test_trickling_server_is_cut_at_the_total_deadline(serve, tmp_path: Path) -> None:
    def trickle(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: 100\r\n\r\n")
        for _ in range(20):  # one byte every 0.4 s: each read is quick, the whole is slow (bounded at 8 s)
            conn.sendall(b"x")
            time.sleep(0.4)

    server = serve(trickle)
    started = time.monotonic()
    error = _fails(f"http://127.0.0.1:{server.port}/t.csv", tmp_path / "x.csv", FetchPolicy(1.5, 1 << 20, 5, True))
    elapsed = time.monotonic() - started
    assert 1.4 <= elapsed < 7.0, elapsed  # cut at the deadline, long before the trickle's 8 s end
    assert "within 1.5s" in error.message


def test_oversize_body_without_declared_length_is_cut(serve, tmp_path: Path) -> None:
    sent: list[int] = []

    def endless(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nConnection: close\r\n\r\n")
        total = 0
        while total < 8 * 1024 * 1024:  # bounded: the client is expected to stop far earlier
            conn.sendall(b"y" * 16384)
            total += 16384
            sent.append(total)

    server = serve(endless)
    error = _fails(f"http://127.0.0.1:{server.port}/big.csv", tmp_path / "x.csv", LOCAL)
    assert error.code is ErrorCode.TOO_LARGE and "65536 bytes" in error.message
    time.sleep(0.3)
    assert sent[-1] < 8 * 1024 * 1024  # the server saw the connection closed early


def test_errors_never_echo_content_nor_tell_closed_ports_apart(serve, tmp_path: Path) -> None:
    def secret_page(conn: socket.socket) -> None:
        body = b"secret-token-123\n"
        conn.sendall(b"HTTP/1.1 500 Oops\r\nContent-Type: text/csv\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))

    server = serve(secret_page)
    answered = _fails(f"http://127.0.0.1:{server.port}/x.csv", tmp_path / "a.csv", LOCAL)
    assert "secret-token" not in answered.message and "secret-token" not in str(answered.details)
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    closed = _fails(f"http://127.0.0.1:{closed_port}/x.csv", tmp_path / "b.csv", LOCAL)
    no_name = _fails("http://no-such-host.invalid/x.csv", tmp_path / "c.csv", LOCAL)
    assert closed.message.replace("127.0.0.1", "H") == no_name.message.replace("no-such-host.invalid", "H")


def test_a_public_policy_still_fetches_an_allowed_local_host(serve, tmp_path: Path) -> None:
    server = serve(csv_answer)
    got = download(f"http://127.0.0.1:{server.port}/d.csv", tmp_path / "d.csv", policy=LOCAL)
    assert got.filename == "d.csv" and (tmp_path / "d.csv").read_bytes() == CSV


def test_ingest_refuses_private_hosts_unless_the_setting_opts_in(monkeypatch: pytest.MonkeyPatch) -> None:
    from scoreline_ingest.settings import IngestSettings

    assert IngestSettings().fetch_policy().allow_private_hosts is False
    monkeypatch.setenv("SCORELINE_URL_ALLOW_PRIVATE_HOSTS", "true")
    monkeypatch.setenv("SCORELINE_URL_TIMEOUT_S", "7")
    policy = IngestSettings().fetch_policy()
    assert policy.allow_private_hosts is True and policy.deadline_s == 7.0


@pytest.mark.slow
def test_ingest_never_echoes_what_a_url_served(backend, file_server) -> None:  # type: ignore[no-untyped-def]
    import httpx

    from tests.services.ingest.conftest import API_KEY

    file_server.files["/metrics"] = (b"# HELP secret_metric_total the secret\nsecret_metric_total 42\n", "text/plain")
    response = httpx.post(
        f"{backend.server.url}/v1/datasets/match-outcome/echo",
        json={"url": f"{file_server.url}/metrics"},
        headers={"Authorization": f"Bearer {API_KEY}"},
        timeout=60,
    )
    assert response.status_code == 422, response.text
    assert "secret" not in response.text and "expected" in response.json()["error"]["message"]
