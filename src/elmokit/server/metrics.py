"""Prometheus metrics of one app instance (its own registry, so several apps can coexist)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

#: Paths reported by name; anything else is counted as "other" (bounded label cardinality).
KNOWN_PATHS = frozenset(
    {"/v1/embed", "/healthz", "/readyz", "/metrics", "/docs", "/redoc", "/openapi.json"}
)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
SIZE_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)
TOKEN_BUCKETS = (8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192)


#: The status recorded for a request whose client hung up before its answer (nginx's
#: "client closed request"): apart from the 5xx of real server faults.
CLIENT_CLOSED = 499


class Metrics:
    """Request, latency, throughput, batch-size and queue metrics for one app.

    ``clock`` (seconds, monotonic) times the tokens/s window; tests pass a fake one.
    """

    def __init__(
        self, throughput_window_s: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "elmokit_http_requests", "HTTP requests answered.",
            ["method", "path", "status"], registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "elmokit_http_request_duration_seconds", "Time to answer an HTTP request.",
            ["path"], buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.tokens = Counter("elmokit_embedded_tokens", "Tokens embedded.", registry=r)
        self.sentences = Counter("elmokit_embedded_sentences", "Sentences embedded.", registry=r)
        self.batch_requests = Histogram(
            "elmokit_batch_requests", "Requests merged into one forward pass.",
            buckets=SIZE_BUCKETS, registry=r,
        )  # fmt: skip
        self.batch_sentences = Histogram(
            "elmokit_batch_sentences", "Sentences per forward pass.",
            buckets=SIZE_BUCKETS, registry=r,
        )  # fmt: skip
        self.batch_tokens = Histogram(
            "elmokit_batch_tokens", "Tokens per forward pass.", buckets=TOKEN_BUCKETS, registry=r
        )
        self.inference = Histogram(
            "elmokit_batch_inference_seconds", "Time of one forward pass (off the event loop).",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.queue_wait = Histogram(
            "elmokit_queue_wait_seconds", "Time a request waited before its batch started.",
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.rejected = Counter(
            "elmokit_rejected_requests", "Requests refused by the batcher.", ["reason"],
            registry=r,
        )  # fmt: skip
        self.disconnects = Counter(
            "elmokit_client_disconnects",
            "Requests whose client hung up before the answer (also counted as status 499), by "
            "stage: 'body' while sending the request, 'waiting' while it was being embedded.",
            ["stage"], registry=r,
        )  # fmt: skip
        self.queue_depth = Gauge(
            "elmokit_queue_depth", "Requests waiting for a forward pass.", registry=r
        )
        self.tokens_per_second = Gauge(
            "elmokit_tokens_per_second",
            f"Tokens embedded per second over the last {throughput_window_s:g} s.",
            registry=r,
        )
        self._window_s = throughput_window_s
        self._clock = clock
        self._recent: deque[tuple[float, int]] = deque()
        self.tokens_per_second.set_function(self.throughput)

    def bind_queue_depth(self, depth: Callable[[], int]) -> None:
        """Report ``depth()`` as the queue depth at every scrape."""
        self.queue_depth.set_function(lambda: float(depth()))

    def observe_batch(
        self, requests: int, sentences: int, tokens: int, seconds: float, waits: list[float]
    ) -> None:
        """Record one forward pass (called on the event loop)."""
        self.batch_requests.observe(requests)
        self.batch_sentences.observe(sentences)
        self.batch_tokens.observe(tokens)
        self.inference.observe(seconds)
        self.tokens.inc(tokens)
        self.sentences.inc(sentences)
        for wait in waits:
            self.queue_wait.observe(wait)
        now = self._clock()
        self._recent.append((now, tokens))
        self._trim(now)  # bounded even when nobody scrapes /metrics

    def _trim(self, now: float) -> None:
        while self._recent and self._recent[0][0] < now - self._window_s:
            self._recent.popleft()

    @property
    def window_batches(self) -> int:
        """Batches remembered for the tokens/s window (those of the last window only)."""
        return len(self._recent)

    def throughput(self) -> float:
        """Tokens embedded per second over the last ``throughput_window_s`` seconds."""
        self._trim(self._clock())
        return sum(n for _, n in self._recent) / self._window_s

    def observe_request(self, method: str, path: str, status: int, seconds: float) -> None:
        """Record one answered HTTP request."""
        label = path if path in KNOWN_PATHS else "other"
        self.requests.labels(method, label, str(status)).inc()
        self.latency.labels(label).observe(seconds)

    def observe_disconnect(self, method: str, path: str, stage: str, seconds: float) -> None:
        """Record a request whose client hung up at ``stage`` ("body", "waiting", or "cancelled":
        the connection was gone before an answer started)."""
        self.disconnects.labels(stage).inc()
        self.observe_request(method, path, CLIENT_CLOSED, seconds)

    def render(self) -> tuple[bytes, str]:
        """(Prometheus text exposition, its content type)."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
