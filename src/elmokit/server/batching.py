"""Dynamic micro-batching: concurrent requests share one forward pass.

Requests are queued; one worker task takes the first waiting request, then keeps adding
waiting requests until the batch holds ``max_batch_tokens`` tokens or ``max_batch_requests``
requests, or ``max_wait_ms`` has passed. It waits only when companions are likely: the
previous batch merged several requests, or a request is being read and parsed right now
(:meth:`MicroBatcher.incoming`); so a lone client pays no wait. The merged sentences go to
``embed_fn`` in a one-thread executor (off the event loop; torch uses its own intra-op
threads) and each request gets its own rows back. The server's ``embed_fn`` is
:meth:`elmokit.Elmo.embed_batch` with its ``max_padded_tokens`` budget: it runs the batch in
length-sorted passes bounded by padded size (rows x longest), so memory follows padded work,
not the real token count that batches are merged by. Merging is exact because ``embed_batch``
is stateless: a sentence's vectors do not depend on its batch companions. While a batch runs,
new requests queue up and form the next batch, so under load batches grow by themselves.

A full queue raises :class:`QueueFullError` at once (the server answers 503 + Retry-After)
instead of growing without bound; a request whose client hangs up, or that times out, is
dropped from the queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from elmokit.server.metrics import Metrics

EmbedFn = Callable[[list[list[str]]], Sequence[np.ndarray]]


class BatcherError(Exception):
    """Base of the errors :meth:`MicroBatcher.submit` raises by design."""


class QueueFullError(BatcherError):
    """Too many requests are already waiting."""


class NotRunningError(BatcherError):
    """The batcher has not started or is shutting down."""


class RequestTimeoutError(BatcherError):
    """The request was not answered in time (it is dropped if it has not run yet)."""


class ClientGoneError(BatcherError):
    """The client hung up while its request waited (it is dropped if it has not run yet)."""


@dataclass
class _Job:
    sentences: list[list[str]]
    tokens: int
    future: asyncio.Future
    enqueued: float = field(default_factory=time.monotonic)


class MicroBatcher:
    """Queue + worker task that merges concurrent ``submit`` calls into batches."""

    def __init__(
        self,
        embed_fn: EmbedFn,
        *,
        max_batch_tokens: int = 4096,
        max_batch_requests: int = 64,
        max_wait_ms: float = 2.0,
        max_queue: int = 256,
        metrics: Metrics | None = None,
    ) -> None:
        self._embed_fn = embed_fn
        self.max_batch_tokens = max_batch_tokens
        self.max_batch_requests = max_batch_requests
        self.max_wait_s = max_wait_ms / 1000.0
        self.max_queue = max_queue
        self._metrics = metrics
        self._queue: asyncio.Queue[_Job] | None = None
        self._carry: _Job | None = None
        self._worker: asyncio.Task | None = None
        self._executor: ThreadPoolExecutor | None = None
        self._incoming = 0
        self._last_batch = 1
        if metrics is not None:
            metrics.bind_queue_depth(lambda: self.depth)

    # ------------------------------------------------------------------ lifecycle
    @property
    def running(self) -> bool:
        return self._worker is not None and not self._worker.done()

    @property
    def depth(self) -> int:
        """Requests waiting for a forward pass (not counting the one running)."""
        queued = self._queue.qsize() if self._queue is not None else 0
        return queued + (self._carry is not None)

    async def start(self) -> None:
        """Start the worker task (call from the event loop that will submit)."""
        if self.running:
            return
        self._queue = asyncio.Queue()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="elmokit-infer")
        self._worker = asyncio.create_task(self._run(), name="elmokit-batcher")

    async def stop(self) -> None:
        """Stop the worker; requests still waiting fail with :class:`NotRunningError`."""
        worker, self._worker = self._worker, None
        if worker is not None:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker
        pending = [self._carry] if self._carry else []
        self._carry = None
        while self._queue is not None and not self._queue.empty():
            pending.append(self._queue.get_nowait())
        for job in pending:
            if not job.future.done():
                job.future.set_exception(NotRunningError("the server is shutting down"))
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    # ------------------------------------------------------------------ requests
    @contextlib.contextmanager
    def incoming(self) -> Iterator[None]:
        """Mark a request that will soon be submitted (while its body is read and parsed):
        a forming batch waits up to ``max_wait_ms`` for such requests, and only for them.
        Call :meth:`submit` right after leaving the block, with no ``await`` in between."""
        self._incoming += 1
        try:
            yield
        finally:
            self._incoming -= 1

    async def submit(
        self,
        sentences: list[list[str]],
        timeout: float | None = None,
        hang_up: Callable[[], Awaitable[object]] | None = None,
    ) -> list[np.ndarray]:
        """Embed ``sentences`` (token lists) in some batch; -> one (L, n_i, D) array each.

        The request is queued before the first ``await`` (see :meth:`incoming`). ``hang_up``:
        an async callable that returns once the client has gone; then the request is dropped
        (if it has not run yet) and :class:`ClientGoneError` raised, as
        :class:`RequestTimeoutError` is after ``timeout`` seconds."""
        if not self.running or self._queue is None:
            raise NotRunningError("the model is not ready")
        if self.depth >= self.max_queue:
            if self._metrics is not None:
                self._metrics.rejected.labels("queue_full").inc()
            raise QueueFullError(f"{self.depth} requests are already waiting")
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(sentences, sum(len(s) for s in sentences), future))
        watcher = asyncio.ensure_future(hang_up()) if hang_up is not None else None
        try:
            done, _ = await asyncio.wait(
                {future} if watcher is None else {future, watcher},
                timeout=timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:  # also when the caller is cancelled: nothing is left waiting or queued
            if watcher is not None:
                watcher.cancel()
            future.cancel()  # no-op when done; else the worker skips the job
        if future in done:
            return future.result()
        if watcher is not None and watcher in done:
            watcher.result()  # a failing watcher is a bug: let it show
            raise ClientGoneError("the client hung up")
        if self._metrics is not None:
            self._metrics.rejected.labels("timeout").inc()
        raise RequestTimeoutError(f"no answer within {timeout:g} s")

    # ------------------------------------------------------------------ worker
    async def _next_job(self, deadline: float | None) -> _Job | None:
        assert self._queue is not None
        if self._carry is not None:
            job, self._carry = self._carry, None
            return job
        if deadline is None:
            return await self._queue.get()
        try:
            return self._queue.get_nowait()
        except asyncio.QueueEmpty:
            pass
        if self._incoming == 0 and self._last_batch <= 1:  # no companion in sight: no wait
            return None
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return None
        try:
            return await asyncio.wait_for(self._queue.get(), remaining)
        except asyncio.TimeoutError:  # noqa: UP041 (not TimeoutError before Python 3.11)
            return None

    async def _collect(self) -> list[_Job]:
        """Wait for one live job, then gather more until a limit or the wait deadline."""
        loop = asyncio.get_running_loop()
        first = await self._next_job(None)
        while first is None or first.future.done():  # skip timed-out / cancelled requests
            first = await self._next_job(None)
        batch, tokens = [first], first.tokens
        deadline = loop.time() + self.max_wait_s
        while len(batch) < self.max_batch_requests and tokens < self.max_batch_tokens:
            job = await self._next_job(deadline)
            if job is None:
                break
            if job.future.done():
                continue
            if tokens + job.tokens > self.max_batch_tokens:
                self._carry = job  # first in line for the next batch
                break
            batch.append(job)
            tokens += job.tokens
        self._last_batch = len(batch)
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._collect()
            sentences = [s for job in batch for s in job.sentences]
            started = time.monotonic()
            try:
                results = await loop.run_in_executor(self._executor, self._embed_fn, sentences)
            except asyncio.CancelledError:
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(NotRunningError("the server is shutting down"))
                raise
            except Exception as exc:  # the model failed: every request of the batch hears it
                for job in batch:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            elapsed = time.monotonic() - started
            if self._metrics is not None:
                self._metrics.observe_batch(
                    len(batch), len(sentences), sum(job.tokens for job in batch), elapsed,
                    [started - job.enqueued for job in batch],
                )  # fmt: skip
            offset = 0
            for job in batch:
                count = len(job.sentences)
                if not job.future.done():
                    job.future.set_result(list(results[offset : offset + count]))
                offset += count
