"""End to end: the real ``elmokit serve`` in a subprocess on a free local port; each test
starts its own server (one stops it, and metrics are per server)."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

KEY = "e2e-test-key"
AUTH = {"Authorization": f"Bearer {KEY}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    proc: subprocess.Popen
    log: Path


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    """This test's own ``elmokit serve`` (tiny model, API key, at most 8 texts), ready."""
    key_file = tmp_path / "key.txt"
    key_file.write_text(KEY + "\n")
    port = free_port()
    cmd = [
        sys.executable, "-m", "elmokit.cli", "serve", "--model", "allennlp-tiny",
        "--port", str(port), "--api-key-file", str(key_file), "--max-texts", "8",
        "--log-level", "info", "--read-timeout", "1", "--max-padded-tokens", "64",
    ]  # fmt: skip
    env = {**os.environ, "ELMOKIT_OFFLINE": "1"}
    log = tmp_path / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, f"server exited: {log.read_text()}"
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"server not ready: {log.read_text()}"
        time.sleep(0.1)
    yield Server(url, proc, log)
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def test_serves_embeddings(server: Server) -> None:
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.post("/v1/embed", json={"texts": ["a"]}).status_code == 401
        r = client.post("/v1/embed", json={"texts": ["The cell divides."]}, headers=AUTH)
        assert r.status_code == 200
        assert np.asarray(r.json()["embeddings"][0]).shape == (3, 32)  # whitespace split
        r = client.post(
            "/v1/embed",
            json={"tokens": [["a", "b"]], "output": "all"},
            headers={**AUTH, "Accept": "application/x-npy"},
        )
        assert np.load(io.BytesIO(r.content)).shape == (3, 2, 32)
        bad = client.post("/v1/embed", content=b"{nope", headers=AUTH)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "malformed_json"
        assert client.post("/v1/embed", json={"texts": ["a"] * 9}, headers=AUTH).status_code == 422
        assert client.get("/openapi.json").status_code == 401  # the key protects it too
        assert client.get("/openapi.json", headers=AUTH).status_code == 200


def test_the_command_line_timeouts_reach_the_protocol(server: Server) -> None:
    """--read-timeout 1: a silent connection is closed (uvicorn alone would keep it)."""
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        try:
            assert sock.recv(1) == b""
        except ConnectionResetError:
            pass
    with httpx.Client(base_url=server.url, timeout=10, headers=AUTH) as client:
        ready = client.get("/readyz").json()  # the key shows the details: a name, no path
        assert ready["model"] == "allennlp-tiny"
        # 7 short sentences and one of 30 tokens: two passes of at most 64 padded positions
        texts = ["a b"] * 7 + [" ".join(["w"] * 30)]
        r = client.post("/v1/embed", json={"texts": texts, "output": "sentence"})
        assert r.status_code == 200 and len(r.json()["embeddings"]) == 8


def batch_metrics(url: str) -> tuple[float, float]:
    """(forward passes, requests they served) from the server's Prometheus metrics."""
    values = {}
    for line in httpx.get(f"{url}/metrics", headers=AUTH, timeout=10).text.splitlines():
        name, _, value = line.partition(" ")
        if name in ("elmokit_batch_requests_count", "elmokit_batch_requests_sum"):
            values[name] = float(value)
    return values["elmokit_batch_requests_count"], values["elmokit_batch_requests_sum"]


def test_concurrent_clients_are_batched(server: Server) -> None:
    def one(i: int) -> int:
        body = {"texts": [f"Sentence number {i} is here ."]}
        return httpx.post(f"{server.url}/v1/embed", json=body, headers=AUTH,
                          timeout=30).status_code  # fmt: skip

    # Whether requests meet in the queue depends on scheduling, so a burst that happened to
    # arrive one by one is repeated (a few at most); the accounting is exact either way.
    for bursts in range(1, 6):
        with ThreadPoolExecutor(16) as pool:
            assert list(pool.map(one, range(48))) == [200] * 48
        passes, served = batch_metrics(server.url)
        assert served == 48 * bursts  # every request was embedded once (warm-up not counted)
        if passes < served:  # at least one forward pass served several requests
            break
    assert passes < served, f"{bursts} bursts of 48 requests, never two in one forward pass"


def test_sigterm_shuts_down_cleanly(server: Server) -> None:
    server.proc.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert server.proc.wait(15) in (0, -signal.SIGTERM)
    log = server.log.read_text()
    assert "Application shutdown complete" in log
    assert "Traceback" not in log
