"""kapi.kube.workqueue against client-go's workqueue semantics (queue_test.go,
rate_limiting_queue_test.go, default_rate_limiters_test.go)."""

from __future__ import annotations

import asyncio

import pytest

from kapi.kube import workqueue


async def test_an_item_is_queued_once() -> None:
    q: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue()
    q.add("a")
    q.add("a")
    q.add("b")
    assert len(q) == 2
    assert await q.get() == "a"
    assert await q.get() == "b"


async def test_added_while_processing_comes_back_after_done() -> None:
    q: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue()
    q.add("a")
    item = await q.get()
    q.add("a")  # dirty, but being processed: not handed to a second worker
    assert len(q) == 0
    assert item is not None
    q.done(item)
    assert len(q) == 1
    assert await q.get() == "a"


async def test_add_after_keeps_the_earlier_time() -> None:
    q: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue()
    q.add_after("a", 10.0)
    q.add_after("a", 0.01)
    assert await asyncio.wait_for(q.get(), 1.0) == "a"


async def test_shut_down_wakes_waiting_workers() -> None:
    q: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue()
    waiter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.shut_down()
    assert await asyncio.wait_for(waiter, 1.0) is None
    q.add("late")  # ignored once shutting down
    assert len(q) == 0


async def test_shut_down_with_drain_waits_for_processing() -> None:
    q: workqueue.RateLimitingQueue[str] = workqueue.RateLimitingQueue()
    q.add("a")
    item = await q.get()
    drained = asyncio.create_task(q.shut_down_with_drain())
    await asyncio.sleep(0.01)
    assert not drained.done()
    assert item is not None
    q.done(item)
    await asyncio.wait_for(drained, 1.0)


def test_exponential_failure_backoff() -> None:
    limiter = workqueue.ItemExponentialFailureRateLimiter(0.001, 1.0)
    assert [limiter.when("x") for _ in range(5)] == [0.001, 0.002, 0.004, 0.008, 0.016]
    assert limiter.num_requeues("x") == 5
    for _ in range(20):
        limiter.when("x")
    assert limiter.when("x") == 1.0  # capped
    limiter.forget("x")
    assert limiter.when("x") == 0.001 and limiter.num_requeues("y") == 0


def test_bucket_allows_a_burst_then_paces() -> None:
    limiter = workqueue.BucketRateLimiter(qps=10, burst=3)
    delays = [limiter.when(i) for i in range(5)]
    assert delays[:3] == [0.0, 0.0, 0.0]
    assert delays[3] == pytest.approx(0.1, abs=0.02)
    assert delays[4] == pytest.approx(0.2, abs=0.02)


def test_default_controller_rate_limiter_is_the_larger_of_both() -> None:
    limiter = workqueue.default_controller_rate_limiter()
    assert limiter.when("a") == 0.005
    assert limiter.when("a") == 0.01
    assert limiter.num_requeues("a") == 2
