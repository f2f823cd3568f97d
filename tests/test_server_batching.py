"""The micro-batcher on its own: merging, routing, token budget, queue bound, timeouts."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from elmokit.server.batching import (
    ClientGoneError,
    MicroBatcher,
    NotRunningError,
    QueueFullError,
    RequestTimeoutError,
)


class Recorder:
    """embed_fn stand-in: each token becomes a vector holding its integer value; batches are
    recorded; ``gate`` (when cleared) holds the forward pass."""

    def __init__(self) -> None:
        self.batches: list[list[list[str]]] = []
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, sentences: list[list[str]]) -> list[np.ndarray]:
        self.batches.append(sentences)
        self.gate.wait(10)
        return [np.array([[[float(t)] for t in s]] * 3, dtype=np.float32) for s in sentences]


def sentence(*values: int) -> list[str]:
    return [str(v) for v in values]


async def _busy(batcher: MicroBatcher, model: Recorder) -> asyncio.Task:
    """Start a request that holds the worker (gate closed) and wait until it runs."""
    model.gate.clear()
    task = asyncio.create_task(batcher.submit([sentence(0)]))
    while not model.batches:
        await asyncio.sleep(0.005)
    return task


async def _until(condition, seconds: float = 10.0) -> None:
    """Wait until ``condition()`` holds (a loaded machine may take longer than any fixed sleep)."""
    deadline = time.perf_counter() + seconds
    while not condition():
        assert time.perf_counter() < deadline, "condition not reached"
        await asyncio.sleep(0.005)


def test_concurrent_requests_share_a_batch_and_get_their_own_rows() -> None:
    async def main() -> None:
        model = Recorder()
        batcher = MicroBatcher(model, max_wait_ms=1)
        await batcher.start()
        first = await _busy(batcher, model)
        tasks = [
            asyncio.create_task(batcher.submit([sentence(i, i + 1), sentence(100 + i)]))
            for i in range(1, 9)
        ]
        await _until(lambda: batcher.depth == 8)
        model.gate.set()
        results = await asyncio.gather(*tasks)
        await first
        await batcher.stop()
        assert len(model.batches) == 2 and len(model.batches[1]) == 16  # one merged pass
        for i, (a, b) in enumerate(results, start=1):
            assert a.shape == (3, 2, 1) and b.shape == (3, 1, 1)
            assert a[0, :, 0].tolist() == [i, i + 1] and b[0, 0, 0] == 100 + i

    asyncio.run(main())


def test_token_budget_splits_batches() -> None:
    async def main() -> None:
        model = Recorder()
        batcher = MicroBatcher(model, max_batch_tokens=10, max_wait_ms=1)
        await batcher.start()
        first = await _busy(batcher, model)
        tasks = [asyncio.create_task(batcher.submit([sentence(*range(4))])) for _ in range(5)]
        await _until(lambda: batcher.depth == 5)
        model.gate.set()
        await asyncio.gather(first, *tasks)
        await batcher.stop()
        sizes = [sum(len(s) for s in batch) for batch in model.batches[1:]]
        assert sizes == [8, 8, 4]  # 4 + 4 fit in 10, the third carries over

    asyncio.run(main())


def test_max_batch_requests_one_means_no_batching() -> None:
    async def main() -> None:
        model = Recorder()
        batcher = MicroBatcher(model, max_batch_requests=1)
        await batcher.start()
        await asyncio.gather(*(batcher.submit([sentence(i)]) for i in range(5)))
        await batcher.stop()
        assert [len(b) for b in model.batches] == [1] * 5

    asyncio.run(main())


def test_queue_is_bounded_and_timeouts_drop_requests() -> None:
    async def main() -> None:
        model = Recorder()
        batcher = MicroBatcher(model, max_queue=2, max_wait_ms=0)
        await batcher.start()
        first = await _busy(batcher, model)
        waiting = [asyncio.create_task(batcher.submit([sentence(1)])) for _ in range(2)]
        await _until(lambda: batcher.depth == 2)
        with pytest.raises(QueueFullError):
            await batcher.submit([sentence(2)])
        with pytest.raises(RequestTimeoutError):
            await _timed_out(batcher)
        model.gate.set()
        await asyncio.gather(first, *waiting)
        await batcher.stop()
        assert all(len(b) <= 2 for b in model.batches)

    async def _timed_out(batcher: MicroBatcher) -> None:
        batcher.max_queue = 10
        await batcher.submit([sentence(3)], timeout=0.05)

    asyncio.run(main())


def test_timed_out_requests_are_not_run() -> None:
    async def main() -> None:
        model = Recorder()
        batcher = MicroBatcher(model, max_wait_ms=0)
        await batcher.start()
        first = await _busy(batcher, model)
        with pytest.raises(RequestTimeoutError):
            await batcher.submit([sentence(7)], timeout=0.05)
        model.gate.set()
        await first
        assert (await batcher.submit([sentence(8)]))[0][0, 0, 0] == 8
        await batcher.stop()
        assert ["7"] not in [s for b in model.batches for s in b]

    asyncio.run(main())


def test_stop_fails_waiting_requests_and_refuses_new_ones() -> None:
    async def main() -> None:
        model = Recorder()
        batcher = MicroBatcher(model)
        with pytest.raises(NotRunningError):
            await batcher.submit([sentence(1)])
        await batcher.start()
        first = await _busy(batcher, model)
        waiting = asyncio.create_task(batcher.submit([sentence(1)]))
        await _until(lambda: batcher.depth == 1)
        await batcher.stop()
        model.gate.set()
        for task in (first, waiting):
            with pytest.raises(NotRunningError):
                await task

    asyncio.run(main())


def test_a_lone_request_does_not_wait_for_companions() -> None:
    async def main() -> None:
        model = Recorder()
        batcher = MicroBatcher(model, max_wait_ms=600_000)  # a wait would take 10 minutes
        await batcher.start()
        for i in range(3):  # each answered long before one wait could end, however slow
            await asyncio.wait_for(batcher.submit([sentence(i)]), timeout=60)
        await batcher.stop()
        assert [len(b) for b in model.batches] == [1, 1, 1]

    asyncio.run(main())


def test_a_batch_waits_for_a_request_being_parsed() -> None:
    async def main() -> None:
        model = Recorder()
        batcher = MicroBatcher(model, max_wait_ms=1000)
        await batcher.start()

        async def late() -> list[np.ndarray]:
            with batcher.incoming():
                await asyncio.sleep(0.05)  # reading / parsing the body
            return await batcher.submit([sentence(2)])

        second = asyncio.create_task(late())
        await asyncio.sleep(0)  # `late` is now inside `incoming`
        first = await batcher.submit([sentence(1)])
        assert (await second)[0][0, 0, 0] == 2 and first[0][0, 0, 0] == 1
        await batcher.stop()
        assert [len(b) for b in model.batches] == [2]

    asyncio.run(main())


def test_throughput_window_stays_bounded_without_scrapes() -> None:
    from elmokit.server.metrics import Metrics

    now = [100.0]
    metrics = Metrics(throughput_window_s=10.0, clock=lambda: now[0])
    for _ in range(50):
        metrics.observe_batch(1, 1, 10, 0.001, [0.0])
    assert metrics.window_batches == 50 and metrics.throughput() == 50 * 10 / 10.0
    now[0] += 10.5  # the 50 batches fall out of the window
    metrics.observe_batch(1, 1, 30, 0.001, [0.0])
    assert metrics.window_batches == 1  # old entries dropped on write, not only on scrape
    assert metrics.throughput() == 30 / 10.0
    now[0] += 11
    assert metrics.throughput() == 0.0


def test_a_client_that_hangs_up_is_dropped_before_it_runs() -> None:
    async def main() -> None:
        model = Recorder()
        batcher = MicroBatcher(model, max_wait_ms=0)
        await batcher.start()
        first = await _busy(batcher, model)
        gone = asyncio.Event()
        waiting = asyncio.create_task(batcher.submit([sentence(7)], hang_up=gone.wait))
        await _until(lambda: batcher.depth == 1)
        gone.set()
        with pytest.raises(ClientGoneError):
            await waiting
        model.gate.set()
        await first
        assert (await batcher.submit([sentence(8)], hang_up=asyncio.Event().wait))[0][0, 0, 0] == 8
        await batcher.stop()
        assert ["7"] not in [s for b in model.batches for s in b]

    asyncio.run(main())


def test_a_cancelled_caller_leaves_nothing_queued() -> None:
    async def main() -> None:
        model = Recorder()
        batcher = MicroBatcher(model, max_wait_ms=0)
        await batcher.start()
        first = await _busy(batcher, model)
        waiting = asyncio.create_task(batcher.submit([sentence(5)], hang_up=asyncio.Event().wait))
        await _until(lambda: batcher.depth == 1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        model.gate.set()
        await first
        await batcher.submit([sentence(6)])
        await batcher.stop()
        assert ["5"] not in [s for b in model.batches for s in b]
        assert len(asyncio.all_tasks()) == 1  # no hang-up watcher left behind (only main)

    asyncio.run(main())
