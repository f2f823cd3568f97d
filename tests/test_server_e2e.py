"""End to end: the real ``elmokit serve`` in a subprocess on a free local port."""

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
from pathlib import Path

import numpy as np
import pytest

httpx = pytest.importorskip("httpx")
pytest.importorskip("uvicorn")

KEY = "e2e-test-key"
LOGS: list[Path] = []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, subprocess.Popen]]:
    key_file = tmp_path_factory.mktemp("key") / "key.txt"
    key_file.write_text(KEY + "\n")
    port = free_port()
    cmd = [
        sys.executable, "-m", "elmokit.cli", "serve", "--model", "allennlp-tiny",
        "--port", str(port), "--api-key-file", str(key_file), "--max-texts", "8",
        "--log-level", "info",
    ]  # fmt: skip
    env = {**os.environ, "ELMOKIT_OFFLINE": "1"}
    log = Path(tmp_path_factory.mktemp("log")) / "server.log"
    LOGS.append(log)
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
    yield url, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)


def test_serves_embeddings(server: tuple[str, subprocess.Popen]) -> None:
    url, _ = server
    auth = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=url, timeout=10) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.post("/v1/embed", json={"texts": ["a"]}).status_code == 401
        r = client.post("/v1/embed", json={"texts": ["The cell divides."]}, headers=auth)
        assert r.status_code == 200
        assert np.asarray(r.json()["embeddings"][0]).shape == (4, 32)
        r = client.post(
            "/v1/embed",
            json={"tokens": [["a", "b"]], "output": "all"},
            headers={**auth, "Accept": "application/x-npy"},
        )
        assert np.load(io.BytesIO(r.content)).shape == (3, 2, 32)
        bad = client.post("/v1/embed", content=b"{nope", headers=auth)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "malformed_json"
        assert client.post("/v1/embed", json={"texts": ["a"] * 9}, headers=auth).status_code == 422
        assert client.get("/openapi.json").status_code == 200


def test_concurrent_clients_are_batched(server: tuple[str, subprocess.Popen]) -> None:
    url, _ = server
    auth = {"Authorization": f"Bearer {KEY}"}

    def one(i: int) -> int:
        body = {"texts": [f"Sentence number {i} is here ."]}
        return httpx.post(f"{url}/v1/embed", json=body, headers=auth, timeout=30).status_code

    with ThreadPoolExecutor(16) as pool:
        assert list(pool.map(one, range(48))) == [200] * 48
    metrics = httpx.get(f"{url}/metrics", headers=auth).text
    count = sum_ = None
    for line in metrics.splitlines():
        if line.startswith("elmokit_batch_requests_count"):
            count = float(line.split()[-1])
        if line.startswith("elmokit_batch_requests_sum"):
            sum_ = float(line.split()[-1])
    assert count is not None and sum_ is not None
    assert count < sum_  # at least one forward pass served several requests


def test_sigterm_shuts_down_cleanly(server: tuple[str, subprocess.Popen]) -> None:
    _, proc = server
    proc.send_signal(signal.SIGTERM)
    # uvicorn shuts down gracefully, then re-raises the signal it caught.
    assert proc.wait(15) in (0, -signal.SIGTERM)
    log = LOGS[-1].read_text()
    assert "Application shutdown complete" in log
    assert "Traceback" not in log
