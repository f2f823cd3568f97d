"""Hostile and careless clients against a real server: uvicorn on 127.0.0.1 (a free port, in a
thread of this process, with the options ``elmokit serve`` uses), raw sockets as clients.

Silent and half-sent request heads, stalled bodies, unread answers, too many connections,
numbers Python cannot parse, and clients that hang up: none may hold the server's resources,
give a 5xx or be logged as a server error.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pytest

uvicorn = pytest.importorskip("uvicorn")
pytest.importorskip("httptools")
httpx = pytest.importorskip("httpx")

from elmokit import Elmo  # noqa: E402
from elmokit.server import ServerSettings, create_app  # noqa: E402
from elmokit.server.launch import uvicorn_options  # noqa: E402
from elmokit.server.settings import SETTINGS_ENV  # noqa: E402

WAIT = 30.0  # the most any test waits for something that should take a fraction of it


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Live:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def connect(self, rcvbuf: int | None = None) -> socket.socket:
        sock = socket.socket()
        if rcvbuf is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.settimeout(WAIT)
        sock.connect((self.host, self.port))
        return sock

    def metrics(self) -> dict[str, float]:
        """Every sample of /metrics, by its full name with labels."""
        text = httpx.get(f"{self.url}/metrics", timeout=WAIT).text
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, _, value = line.rpartition(" ")
                samples[name] = float(value)
        return samples

    def statuses(self) -> dict[str, float]:
        """Requests counted so far by status (all paths)."""
        counts: dict[str, float] = {}
        for name, value in self.metrics().items():
            if name.startswith("elmokit_http_requests_total{"):
                status = name.split('status="')[1].split('"')[0]
                counts[status] = counts.get(status, 0) + value
        return counts


@contextmanager
def live_server(
    monkeypatch: pytest.MonkeyPatch, settings: ServerSettings, model: object
) -> Iterator[Live]:
    """``create_app(settings, elmo=model)`` served by uvicorn as ``elmokit serve`` runs it."""
    monkeypatch.setenv(SETTINGS_ENV, settings.to_env())  # where the protocol reads its timeouts
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, elmo=model), host="127.0.0.1", port=port, log_config=None,
        lifespan="on", **uvicorn_options(settings),
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.01)
    try:
        yield Live("127.0.0.1", port)
    finally:
        server.should_exit = True
        thread.join(WAIT)


def request_bytes(body: bytes, path: str = "/v1/embed", extra: str = "") -> bytes:
    head = (f"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n{extra}\r\n")  # fmt: skip
    return head.encode() + body


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """One HTTP/1.1 response with a Content-Length: (status, headers, body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a response: {data!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get("content-length", 0))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed in the middle of a response"
        body += chunk
    return int(lines[0].split()[1]), headers, body


def closed_by_server(sock: socket.socket) -> bool:
    """True once the server has closed the connection (waits at most WAIT seconds)."""
    try:
        while True:
            if sock.recv(65536) == b"":
                return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def wait_until(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"not reached within {WAIT:g} s: {what}"
        time.sleep(0.05)


def server_errors(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]


GOOD = json.dumps({"texts": ["The cell divides ."]}).encode()


# ---------------------------------------------------------------------- slow clients
def test_silent_and_half_sent_heads_are_closed(monkeypatch, tiny_elmo: Elmo) -> None:
    with live_server(monkeypatch, ServerSettings(read_timeout_s=0.3), tiny_elmo) as live:
        silent = live.connect()
        half = live.connect()
        half.sendall(b"POST /v1/embed HTTP/1.1\r\nHost: test\r\nContent-Le")
        # after an answer, the next request head has read_timeout_s too
        idle = live.connect()
        idle.sendall(request_bytes(GOOD))
        assert read_response(idle)[0] == 200
        idle.sendall(b"POST /v1/embed HTTP/1.1\r\n")
        for sock in (silent, half, idle):
            assert closed_by_server(sock)
            sock.close()
        assert httpx.post(f"{live.url}/v1/embed", content=GOOD, timeout=WAIT).status_code == 200


def test_a_stalled_body_gets_408_and_the_connection_closes(
    monkeypatch, tiny_elmo: Elmo, caplog: pytest.LogCaptureFixture
) -> None:
    with live_server(monkeypatch, ServerSettings(read_timeout_s=0.3), tiny_elmo) as live:
        sock = live.connect()
        sock.sendall(request_bytes(GOOD)[: -len(GOOD) + 5])  # the head and 5 bytes of body
        status, headers, body = read_response(sock)
        assert status == 408 and headers["connection"] == "close"
        assert json.loads(body)["error"]["code"] == "request_timeout"
        assert closed_by_server(sock)
        sock.close()
        statuses = live.statuses()
        assert statuses.get("408") == 1 and not any(s.startswith("5") for s in statuses)
    assert server_errors(caplog) == []


def test_an_unread_answer_is_dropped_after_the_write_timeout(monkeypatch, tiny_elmo: Elmo) -> None:
    settings = ServerSettings(write_timeout_s=0.3)
    with live_server(monkeypatch, settings, tiny_elmo) as live:
        # "all" for 4,096 tokens: ~8 MB of JSON, far more than the socket buffers hold
        body = json.dumps({"tokens": [["word"] * 512] * 8, "output": "all"}).encode()
        sock = live.connect(rcvbuf=4096)
        sock.sendall(request_bytes(body))
        wait_until(lambda: live.statuses().get("200", 0) >= 1, "the answer was handed over")
        time.sleep(1.5)  # 5x the write timeout, reading nothing
        received = b""
        try:
            while chunk := sock.recv(1 << 20):
                received += chunk
        except ConnectionResetError:
            pass
        sock.close()
        head, _, answer = received.partition(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        assert length > 4_000_000 and len(answer) < length  # cut off, not delivered in full
        assert httpx.post(f"{live.url}/v1/embed", content=GOOD, timeout=WAIT).status_code == 200


def test_connections_beyond_the_limit_are_refused(monkeypatch, tiny_elmo: Elmo) -> None:
    with live_server(monkeypatch, ServerSettings(max_connections=2), tiny_elmo) as live:
        held = [live.connect(), live.connect()]
        for sock in held:  # both served, and kept open (keep-alive)
            sock.sendall(request_bytes(GOOD))
            assert read_response(sock)[0] == 200
        extra = live.connect()
        extra.sendall(request_bytes(GOOD))
        status, headers, _ = read_response(extra)
        assert status == 503 and headers["connection"] == "close"
        assert closed_by_server(extra)
        extra.close()
        held.pop().close()

        def served() -> bool:
            with live.connect() as sock:
                sock.sendall(request_bytes(GOOD))
                return read_response(sock)[0] == 200

        wait_until(served, "a connection is free again")
        held[0].sendall(request_bytes(GOOD))  # the held one still works
        assert read_response(held[0])[0] == 200
        held[0].close()


# ---------------------------------------------------------------------- malformed numbers
def test_a_5001_digit_number_is_400_and_the_connection_stays(monkeypatch, tiny_elmo: Elmo) -> None:
    with live_server(monkeypatch, ServerSettings(), tiny_elmo) as live:
        sock = live.connect()
        bad = b'{"texts": ["a"], "output": "mix", "weights": [' + b"1" * 5001 + b", 0, 0]}"
        sock.sendall(request_bytes(bad))
        status, headers, body = read_response(sock)
        assert status == 400 and json.loads(body)["error"]["code"] == "malformed_json"
        assert headers.get("connection") != "close"
        sock.sendall(request_bytes(GOOD))  # the same keep-alive connection
        assert read_response(sock)[0] == 200
        sock.close()


# ---------------------------------------------------------------------- hang-ups
def test_a_hang_up_while_sending_is_499_not_a_logged_500(
    monkeypatch, tiny_elmo: Elmo, caplog: pytest.LogCaptureFixture
) -> None:
    with live_server(monkeypatch, ServerSettings(), tiny_elmo) as live:
        sock = live.connect()
        sock.sendall(request_bytes(GOOD)[: -len(GOOD) + 5])
        time.sleep(0.1)  # the head has been read and the body is awaited
        sock.close()
        key = 'elmokit_client_disconnects_total{stage="body"}'
        wait_until(lambda: live.metrics().get(key) == 1, "the hang-up is counted")
        statuses = live.statuses()
        assert statuses.get("499") == 1 and not any(s.startswith("5") for s in statuses)
    assert server_errors(caplog) == []


class GatedModel:
    """A stand-in model whose forward pass waits for ``gate``; records what it embedded."""

    name, dim, num_layers = "gated", 4, 3

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.gate.set()  # open during the warm-up
        self.seen: list[list[str]] = []

    def embed_batch(self, sentences, max_padded_tokens=None):
        self.seen += sentences
        assert self.gate.wait(WAIT)
        return [np.zeros((3, len(s), 4), np.float32) for s in sentences]


def test_a_hang_up_while_waiting_drops_the_request(
    monkeypatch, caplog: pytest.LogCaptureFixture
) -> None:
    model = GatedModel()
    with live_server(monkeypatch, ServerSettings(), model) as live:
        model.gate.clear()
        first: list[int] = []
        busy = threading.Thread(
            target=lambda: first.append(
                httpx.post(
                    f"{live.url}/v1/embed", json={"texts": ["busy"]}, timeout=WAIT
                ).status_code
            )
        )
        busy.start()
        wait_until(lambda: ["busy"] in model.seen, "the first request runs")
        sock = live.connect()
        sock.sendall(request_bytes(json.dumps({"texts": ["gone"]}).encode()))
        wait_until(lambda: live.metrics().get("elmokit_queue_depth") == 1, "it is queued")
        sock.close()
        key = 'elmokit_client_disconnects_total{stage="waiting"}'
        wait_until(lambda: live.metrics().get(key) == 1, "the hang-up is counted")
        model.gate.set()
        busy.join(WAIT)
        assert first == [200]
        assert ["gone"] not in model.seen  # dropped before it ran
        statuses = live.statuses()
        assert statuses.get("499") == 1 and not any(s.startswith("5") for s in statuses)
    assert server_errors(caplog) == []


def test_a_cancelled_request_is_a_disconnect_not_a_server_error():
    """uvicorn cancels a request's task when its connection is gone (client close, read or
    write timeout): /metrics must not count that as a 500 (the hostile load mix saw 287)."""
    import asyncio

    from elmokit.server.metrics import Metrics
    from elmokit.server.middleware import MetricsMiddleware

    async def cancelled_app(scope, receive, send):
        raise asyncio.CancelledError

    metrics = Metrics()
    middleware = MetricsMiddleware(cancelled_app, metrics)
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(middleware({"type": "http", "method": "POST", "path": "/v1/embed"}, None, None))
    text = metrics.render()[0].decode()
    assert 'elmokit_client_disconnects_total{stage="cancelled"} 1.0' in text
    assert 'status="500"' not in text and 'status="499"' in text
