"""Load test of ``elmokit serve`` (localhost only, bounded in time and requests).

Starts its own server (``elmokit serve`` in a subprocess on a free local port) unless
``--url`` points at one on this machine, then drives it with an asyncio httpx client:

1. throughput (requests/s, tokens/s) and p50/p95/p99 latency at 1, 8 and 32 concurrent
   clients, each sending one sentence per request, for ``--duration`` seconds per level;
2. with ``--compare-no-batching``, the same against a second server started with
   ``--no-batching`` (one request per forward pass), to show what micro-batching buys;
3. a soak at ``--soak-concurrency`` clients for ``--soak`` seconds (default 300), with the
   server's RSS before and after (and sampled during) it;
4. with ``--burst``, issue 14's padded-memory case once (a busy request, then one 512-token
   sentence and 55 requests of 64 one-token sentences at once), with the server's peak RSS
   (VmHWM) before and after;
5. with ``--hostile`` seconds, the load + hostile mix: ``--soak-concurrency`` ordinary
   clients while hostile ones run beside them: ``--slow-clients`` connections that send a
   head and a few bytes of body and then stall (or nothing at all), requests with a 5,001-digit
   number, clients that hang up right after sending, and the padded-memory burst (one
   512-token sentence and 55 requests of 64 one-token sentences at once). It reports every
   status each kind of client got, the server's 5xx (its own count in /metrics and what the
   clients saw) and the server's RSS and open file descriptors over time.

Every non-200 answer or transport error of an ordinary client is counted; the run fails
(exit 1) if any occurred, or if the hostile mix gave a 5xx.

    python benchmarks/load.py --soak 60 --compare-no-batching --json out/load.json
    python benchmarks/load.py --concurrency "" --soak 0 --hostile 60 --json out/hostile.json
    python benchmarks/load.py --model en-small --concurrency "" --warmup 0 --soak 0 --burst
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

ROOT = Path(__file__).resolve().parents[1]
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}
WORDS = (
    "the a cell cells divides phone rang prisoner sat alone blood carry oxygen through body "
    "mouse mice ran quickly across kitchen floor bank river money deposit interest rate "
    "scientists found new evidence that protein folding depends on temperature and pressure"
).split()


@dataclass
class Phase:
    """One measured phase: counts, throughput, latency percentiles (ms)."""

    name: str
    concurrency: int
    seconds: float = 0.0
    requests: int = 0
    errors: int = 0
    tokens: int = 0
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    error_samples: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        lat = sorted(self.latencies_ms) or [float("nan")]

        def pct(p: float) -> float:
            return lat[min(len(lat) - 1, int(round(p / 100 * (len(lat) - 1))))]

        return {
            "phase": self.name,
            "concurrency": self.concurrency,
            "seconds": round(self.seconds, 2),
            "requests": self.requests,
            "errors": self.errors,
            "requests_per_s": round(self.requests / self.seconds, 1) if self.seconds else 0.0,
            "tokens_per_s": round(self.tokens / self.seconds, 1) if self.seconds else 0.0,
            "p50_ms": round(pct(50), 1),
            "p95_ms": round(pct(95), 1),
            "p99_ms": round(pct(99), 1),
            "mean_ms": round(statistics.fmean(lat), 1),
            "error_samples": self.error_samples[:5],
        }


def sentences(count: int = 500, seed: int = 0) -> list[str]:
    """Single sentences of 8-24 words: the example file plus random word salad."""
    rng = random.Random(seed)
    pool = []
    example = ROOT / "examples" / "sentences.txt"
    if example.is_file():
        pool += [line.strip() for line in example.read_text().splitlines() if line.strip()]
    while len(pool) < count:
        pool.append(" ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 24))) + " .")
    return pool


def rss_mib(pid: int | None) -> float | None:
    """Resident set size of ``pid`` (and its children, for uvicorn workers) in MiB."""
    if pid is None:
        return None
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return round(total / 1024, 1)


def peak_rss_mib(pid: int | None) -> float | None:
    """The highest resident set size ``pid`` has had (VmHWM) in MiB, or None when unknown."""
    if pid is None:
        return None
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def open_fds(pid: int | None) -> int | None:
    """File descriptors ``pid`` holds (sockets included), or None when unknown."""
    if pid is None:
        return None
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return None


class RawHttpClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams (POST + Content-Length only).

    httpx costs about a millisecond of client CPU per request; on a small shared machine the
    client then limits the measurement, so this lean client is the default (``--client``)."""

    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._head = f"Host: {self.host}:{self.port}\r\nContent-Type: application/json\r\n{extra}"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        """-> (status, body); reconnects when the server closed the connection."""
        if self._writer is None or self._writer.is_closing():
            self._reader, self._writer = await asyncio.open_connection(self.host, self.port)
        assert self._reader is not None
        request = f"POST {path} HTTP/1.1\r\n{self._head}Content-Length: {len(body)}\r\n\r\n"
        self._writer.write(request.encode() + body)
        status_line = await self._reader.readline()
        if not status_line:
            await self.close()
            raise ConnectionError("server closed the connection")
        status = int(status_line.split()[1])
        length, close = 0, False
        while True:
            line = await self._reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        payload = await self._reader.readexactly(length)
        if close:
            await self.close()
        return status, payload

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
            self._writer = None


class HttpxClient:
    """The same interface over one shared ``httpx.AsyncClient`` (``--client httpx``)."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client

    async def post(self, path: str, body: bytes) -> tuple[int, bytes]:
        r = await self._client.post(
            path, content=body, headers={"Content-Type": "application/json"}
        )
        return r.status_code, r.content

    async def close(self) -> None:
        pass


async def run_phase(
    url: str,
    name: str,
    concurrency: int,
    duration: float,
    max_requests: int,
    pool: list[str],
    headers: dict[str, str],
    output: str,
    client_kind: str = "raw",
) -> Phase:
    """``concurrency`` clients, each posting one sentence at a time (closed loop), until the
    time or the request budget is used up."""
    phase = Phase(name, concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    deadline = time.perf_counter() + duration
    issued = 0

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60, headers=headers) as hc:

        async def client(worker: int) -> None:
            nonlocal issued
            rng = random.Random(worker)
            conn = RawHttpClient(url, headers) if client_kind == "raw" else HttpxClient(hc)
            try:
                while time.perf_counter() < deadline and issued < max_requests:
                    issued += 1
                    body = json.dumps({"texts": [rng.choice(pool)], "output": output}).encode()
                    started = time.perf_counter()
                    try:
                        status, payload = await asyncio.wait_for(conn.post("/v1/embed", body), 60)
                        ok = status == 200
                        if ok:
                            phase.tokens += json.loads(payload)["num_tokens"]
                        else:
                            phase.error_samples.append(f"{status} {payload[:200]!r}")
                    except (OSError, ValueError, TimeoutError, asyncio.IncompleteReadError,
                            httpx.HTTPError) as exc:  # fmt: skip
                        ok = False
                        phase.error_samples.append(repr(exc))
                        await conn.close()
                    phase.latencies_ms.append((time.perf_counter() - started) * 1000)
                    phase.requests += 1
                    phase.errors += not ok
            finally:
                await conn.close()

        started = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(concurrency)))
        phase.seconds = time.perf_counter() - started
    return phase


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(model: str | None, extra: list[str]) -> tuple[str, subprocess.Popen]:
    """``elmokit serve`` on a free local port; returns (url, process) once /readyz is 200."""
    port = free_port()
    cmd = [sys.executable, "-m", "elmokit.cli", "serve", "--port", str(port),
           "--log-level", "warning", "--max-queue", "1024", *extra]  # fmt: skip
    if model:
        cmd += ["--model", model]
    proc = subprocess.Popen(cmd, env={**os.environ, "ELMOKIT_OFFLINE": "1"})
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return url, proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not become ready in 120 s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def server_metric(url: str, headers: dict[str, str], name: str) -> float | None:
    """One un-labelled value from /metrics (None if absent)."""
    text = httpx.get(f"{url}/metrics", headers=headers, timeout=10).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    return None


async def measure_levels(args, url: str, label: str, headers: dict[str, str]) -> list[dict]:
    pool = sentences()
    results = []
    await run_phase(
        url, "warmup", 8, args.warmup, args.max_requests, pool, headers, args.output, args.client
    )
    for level in args.concurrency:
        phase = await run_phase(
            url, label, level, args.duration, args.max_requests, pool, headers, args.output,
            args.client,
        )  # fmt: skip
        results.append(phase.summary())
        print(json.dumps(results[-1]), flush=True)
    return results


def markdown(rows: list[dict]) -> str:
    head = "| phase | clients | requests | errors | req/s | tokens/s | p50 ms | p95 ms | p99 ms |"
    lines = [head, "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(
            f"| {r['phase']} | {r['concurrency']} | {r['requests']} | {r['errors']} | "
            f"{r['requests_per_s']} | {r['tokens_per_s']} | {r['p50_ms']} | {r['p95_ms']} | "
            f"{r['p99_ms']} |"
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--url", help="an already running server on this machine (default: start one)")
    p.add_argument("--pid", type=int, help="its process id, for RSS (with --url)")
    p.add_argument("--model", default="allennlp-tiny", help="model for the started server")
    p.add_argument("--api-key-file", help="bearer key for a server that needs one")
    p.add_argument("--concurrency", default="1,8,32", help="comma-separated client counts")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per level")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds")
    p.add_argument("--max-requests", type=int, default=100_000, help="request cap per phase")
    p.add_argument("--client", choices=["raw", "httpx"], default="raw",
                   help="load generator: a lean asyncio HTTP/1.1 client, or httpx")  # fmt: skip
    p.add_argument("--output", default="average", help="the 'output' field of each request")
    p.add_argument("--compare-no-batching", action="store_true",
                   help="also measure a server started with --no-batching")  # fmt: skip
    p.add_argument("--soak", type=float, default=300.0, help="soak seconds (0: no soak)")
    p.add_argument("--soak-concurrency", type=int, default=32)
    p.add_argument("--hostile", type=float, default=0.0,
                   help="seconds of the load + hostile mix (0: none)")
    p.add_argument("--burst", action="store_true",
                   help="send issue 14's padded-memory burst once and report peak RSS")
    p.add_argument("--slow-clients", type=int, default=64,
                   help="stalled connections held open during --hostile")
    p.add_argument("--serve-arg", action="append", default=[],
                   help="extra option for the started server, e.g. --serve-arg=--read-timeout=2")
    p.add_argument("--json", type=Path, help="write all results here")
    args = p.parse_args(argv)
    args.concurrency = [int(c) for c in args.concurrency.split(",") if c]
    if args.url and urlsplit(args.url).hostname not in LOCAL_HOSTS:
        p.error("--url must be a server on this machine (127.0.0.1, localhost, ::1)")
    return args


async def soak(args, url: str, pid: int | None, headers: dict[str, str]) -> dict:
    """Clients at ``--soak-concurrency`` for ``--soak`` s; RSS before, during, after."""
    pool = sentences(seed=1)
    before = rss_mib(pid)
    samples: list[tuple[float, float | None]] = []
    started = time.perf_counter()

    async def sampler() -> None:
        while time.perf_counter() - started < args.soak:
            samples.append((round(time.perf_counter() - started, 1), rss_mib(pid)))
            await asyncio.sleep(max(1.0, args.soak / 30))

    sampling = asyncio.create_task(sampler())
    phase = await run_phase(
        url, "soak", args.soak_concurrency, args.soak, 10**9, pool, headers, args.output,
        args.client,
    )  # fmt: skip
    sampling.cancel()
    after = rss_mib(pid)
    result = phase.summary()
    result.update(rss_before_mib=before, rss_after_mib=after, rss_samples=samples)
    if before is not None and after is not None:
        result["rss_growth_mib"] = round(after - before, 1)
    return result


# ---------------------------------------------------------------------- hostile mix
async def _exchange(host: str, port: int, data: bytes, read: bool = True) -> str:
    """Send ``data`` on a new connection; -> the answer's status, or what happened instead."""
    try:
        reader, writer = await asyncio.open_connection(host, port)
    except OSError as exc:
        return f"connect:{type(exc).__name__}"
    try:
        writer.write(data)
        await writer.drain()
        if not read:
            return "hung up"
        line = await asyncio.wait_for(reader.readline(), 120)
        return line.split()[1].decode() if line else "closed"
    except (OSError, asyncio.TimeoutError) as exc:  # noqa: UP041 (py3.10)
        return type(exc).__name__
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


def _post(body: bytes, headers: dict[str, str], length: int | None = None) -> bytes:
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    head = (f"POST /v1/embed HTTP/1.1\r\nHost: load\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body) if length is None else length}\r\n{extra}"
            "Connection: close\r\n\r\n")
    return head.encode() + body


async def burst(url: str, pid: int | None, headers: dict[str, str]) -> dict:
    """Issue 14's memory case once: a busy request (64 x 64 tokens), then at once one
    512-token sentence and 55 requests of 64 one-token sentences (each within every limit).
    -> statuses, seconds and the server's peak RSS before and after."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    npy = {**headers, "Accept": "application/x-npy"}
    busy = _post(json.dumps({"tokens": [["word"] * 64] * 64}).encode(), npy)
    long = _post(json.dumps({"tokens": [["word"] * 512]}).encode(), npy)
    short = _post(json.dumps({"tokens": [["a"]] * 64}).encode(), npy)
    before = peak_rss_mib(pid)
    started = time.perf_counter()
    first = asyncio.create_task(_exchange(host, port, busy))
    await asyncio.sleep(0.05)
    answers = await asyncio.gather(
        first, _exchange(host, port, long), *(_exchange(host, port, short) for _ in range(55))
    )
    counts: dict[str, int] = {}
    for status in answers:
        counts[status] = counts.get(status, 0) + 1
    return {"statuses": counts, "seconds": round(time.perf_counter() - started, 1),
            "peak_rss_before_mib": before, "peak_rss_after_mib": peak_rss_mib(pid)}  # fmt: skip


async def hostile(args, url: str, pid: int | None, headers: dict[str, str]) -> dict:
    """Ordinary clients (``--soak-concurrency``) beside hostile ones for ``--hostile`` s."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    deadline = time.perf_counter() + args.hostile
    statuses: dict[str, dict[str, int]] = {}

    def count(kind: str, status: str) -> None:
        statuses.setdefault(kind, {})
        statuses[kind][status] = statuses[kind].get(status, 0) + 1

    good = json.dumps({"texts": ["The cell divides ."]}).encode()

    async def slow(i: int) -> None:  # a head and a few bytes of body (or nothing), then stall
        while time.perf_counter() < deadline:
            data = _post(good, headers)[: -len(good) + 3] if i % 4 else b""
            count("slow", await _exchange(host, port, data))

    async def malformed() -> None:
        bad = b'{"texts": ["a"], "output": "mix", "weights": [' + b"1" * 5001 + b", 0, 0]}"
        while time.perf_counter() < deadline:
            count("malformed_number", await _exchange(host, port, _post(bad, headers)))

    async def hang_up() -> None:
        body = json.dumps({"texts": [" ".join(["word"] * 200)] * 16}).encode()
        while time.perf_counter() < deadline:
            count("hang_up", await _exchange(host, port, _post(body, headers), read=False))
            await asyncio.sleep(0.01)

    async def padded_burst() -> None:  # issue 14's memory case, every 2 s
        long = json.dumps({"tokens": [["word"] * 512]}).encode()
        short = json.dumps({"tokens": [["a"]] * 64}).encode()
        while time.perf_counter() < deadline:
            answers = await asyncio.gather(
                _exchange(host, port, _post(long, headers)),
                *(_exchange(host, port, _post(short, headers)) for _ in range(55)),
            )
            for status in answers:
                count("padded_burst", status)
            await asyncio.sleep(2.0)

    samples: list[tuple[float, float | None, int | None]] = []
    started = time.perf_counter()

    async def sampler() -> None:
        while time.perf_counter() < deadline + 1.0:
            samples.append(
                (round(time.perf_counter() - started, 1), rss_mib(pid), open_fds(pid))
            )
            await asyncio.sleep(max(0.5, args.hostile / 30))

    tasks = [asyncio.create_task(t) for t in (
        sampler(), malformed(), hang_up(), padded_burst(),
        *(slow(i) for i in range(args.slow_clients)),
    )]  # fmt: skip
    load = await run_phase(
        url, "hostile mix", args.soak_concurrency, args.hostile, 10**9, sentences(seed=2),
        headers, args.output, args.client,
    )  # fmt: skip
    # Stalled connections end when the server's read timeout closes them; wait at most 60 s.
    done, pending = await asyncio.wait(tasks, timeout=60)
    for task in pending:
        task.cancel()
    for task in done:
        task.result()  # a bug in an actor shows here
    await asyncio.sleep(1.0)  # let the server finish what it was doing
    samples.append((round(time.perf_counter() - started, 1), rss_mib(pid), open_fds(pid)))
    server = httpx.get(f"{url}/metrics", headers=headers, timeout=30).text
    server_5xx = sum(
        float(line.rpartition(" ")[2]) for line in server.splitlines()
        if line.startswith("elmokit_http_requests_total{") and 'status="5' in line
    )  # fmt: skip
    disconnects = {
        line.split('stage="')[1].split('"')[0]: int(float(line.rpartition(" ")[2]))
        for line in server.splitlines() if line.startswith("elmokit_client_disconnects_total{")
    }  # fmt: skip
    client_5xx = sum(n for kind in statuses.values() for s, n in kind.items() if s[:1] == "5")
    rss = [r for _, r, _ in samples if r is not None] or [None]
    fds = [f for _, _, f in samples if f is not None] or [None]
    return {
        "load": load.summary(),
        "statuses": statuses,
        "stragglers_cancelled": len(pending),
        "server_5xx": int(server_5xx),
        "server_disconnects": disconnects,
        "client_5xx": client_5xx,
        "rss_mib": {"first": rss[0], "last": rss[-1], "max": max(rss, default=None)
                    if rss[0] is not None else None, "peak_vmhwm": peak_rss_mib(pid)},
        "fds": {"first": fds[0], "last": fds[-1], "max": max(fds, default=None)
                if fds[0] is not None else None},
        "samples": samples,
    }


def rss_by_fifth(samples: list) -> str:
    """'0-60 s: 455, 60-120 s: 470, ...' from (seconds, rss, fds) samples: a plateau shows as
    equal maxima in the later fifths."""
    points = [(t, r) for t, r, _ in samples if r is not None]
    if not points:
        return "-"
    end = max(t for t, _ in points) or 1.0
    parts = []
    for i in range(5):
        lo, hi = end * i / 5, end * (i + 1) / 5
        inside = [r for t, r in points if lo <= t <= hi]
        if inside:
            parts.append(f"{lo:.0f}-{hi:.0f} s: {max(inside):.0f}")
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    headers = {}
    if args.api_key_file:
        headers["Authorization"] = "Bearer " + Path(args.api_key_file).read_text().strip()
    report: dict = {
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine(),
        },
        "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
    }
    try:
        import torch

        report["machine"]["torch"] = torch.__version__
        report["machine"]["torch_threads"] = torch.get_num_threads()
    except ImportError:  # pragma: no cover
        pass
    rows: list[dict] = []
    procs: list[subprocess.Popen] = []
    try:
        if args.url:
            url, pid = args.url.rstrip("/"), args.pid
        else:
            url, proc = start_server(args.model, args.serve_arg)
            procs.append(proc)
            pid = proc.pid
        rows += asyncio.run(measure_levels(args, url, "batching", headers))
        batches = server_metric(url, headers, "elmokit_batch_requests_count")
        merged = server_metric(url, headers, "elmokit_batch_requests_sum")
        if batches:
            report["mean_requests_per_forward_pass"] = round((merged or 0) / batches, 2)
        if args.soak > 0:
            report["soak"] = asyncio.run(soak(args, url, pid, headers))
            print(json.dumps({k: v for k, v in report["soak"].items() if k != "rss_samples"}))
        if args.burst:
            report["burst"] = asyncio.run(burst(url, pid, headers))
            print(json.dumps({"burst": report["burst"]}), flush=True)
        if args.hostile > 0:
            report["hostile"] = asyncio.run(hostile(args, url, pid, headers))
            print(json.dumps({k: v for k, v in report["hostile"].items() if k != "samples"}))
        if args.compare_no_batching:
            url2, proc2 = start_server(args.model, ["--no-batching", *args.serve_arg])
            procs.append(proc2)
            rows += asyncio.run(measure_levels(args, url2, "no batching", headers))
            stop_server(proc2)
    finally:
        for proc in procs:
            if proc.poll() is None:
                stop_server(proc)
    report["results"] = rows
    errors = sum(r["errors"] for r in rows) + report.get("soak", {}).get("errors", 0)
    if "burst" in report:
        errors += sum(n for status, n in report["burst"]["statuses"].items() if status != "200")
    if "hostile" in report:
        h = report["hostile"]
        errors += h["load"]["errors"] + h["server_5xx"] + h["client_5xx"]
    report["total_errors"] = errors
    print()
    print(markdown(rows + ([report["soak"]] if "soak" in report else [])))
    if "soak" in report:
        s = report["soak"]
        print(f"\nsoak {args.soak:g} s: RSS {s['rss_before_mib']} -> {s['rss_after_mib']} MiB")
    if "hostile" in report:
        h = report["hostile"]
        print(f"\nhostile mix {args.hostile:g} s: 5xx {h['server_5xx']} (server) / "
              f"{h['client_5xx']} (clients); RSS {h['rss_mib']['first']} -> "
              f"{h['rss_mib']['last']} MiB (peak {h['rss_mib']['max']}); open fds "
              f"{h['fds']['first']} -> {h['fds']['last']} (peak {h['fds']['max']}); "
              f"hang-ups counted by the server: {h['server_disconnects']}")
        print(f"  RSS over time (MiB, max per fifth of the run): {rss_by_fifth(h['samples'])}")
        for kind, statuses in h["statuses"].items():
            print(f"  {kind}: {statuses}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2))
    print(f"total errors: {errors}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
