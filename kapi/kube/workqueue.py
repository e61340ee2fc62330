"""Work queues with client-go's semantics (``k8s.io/client-go/util/workqueue``).

* An item is queued at most once: adding one already waiting is a no-op (``dirty``).
* An item is processed by one worker at a time: added while being processed, it is
  queued again only when that worker calls ``done`` (``processing``).
* ``add_after`` queues an item after a delay; added again with an earlier time, the
  earlier one wins (the delaying queue's ``waitingForQueue``).
* ``add_rate_limited`` delays by the rate limiter's ``when``; ``forget`` ends the
  item's backoff. The default limiter is client-go's ``DefaultControllerRateLimiter``:
  the larger of a per-item exponential backoff (5 ms doubling to 1000 s) and an overall
  token bucket (10 per second, burst 100).
* ``shut_down`` wakes the workers, which see ``None``; ``shut_down_with_drain`` also
  waits until the items being processed are done.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Hashable
from typing import Generic, Protocol, TypeVar

T = TypeVar("T", bound=Hashable)


class RateLimiter(Protocol):
    def when(self, item: Hashable) -> float:
        """Seconds to wait before the item is retried (counts a failure)."""

    def forget(self, item: Hashable) -> None:
        """The item succeeded: its backoff starts again from the beginning."""

    def num_requeues(self, item: Hashable) -> int: ...


class ItemExponentialFailureRateLimiter:
    """``base * 2**failures`` seconds, capped at ``maximum`` (client-go's, per item)."""

    def __init__(self, base: float = 0.005, maximum: float = 1000.0) -> None:
        self.base = base
        self.maximum = maximum
        self._failures: dict[Hashable, int] = {}

    def when(self, item: Hashable) -> float:
        failures = self._failures.get(item, 0)
        self._failures[item] = failures + 1
        if failures > 60:  # 2**60 overflows any sensible cap
            return self.maximum
        return float(min(self.maximum, self.base * 2**failures))

    def forget(self, item: Hashable) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: Hashable) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter:
    """An overall token bucket: ``qps`` tokens a second, ``burst`` at most (golang's
    ``rate.Limiter.Reserve``: the delay until this item's token is there)."""

    def __init__(self, qps: float = 10.0, burst: int = 100) -> None:
        self.qps = qps
        self.burst = burst
        self._tokens = float(burst)
        self._last = time.monotonic()

    def when(self, item: Hashable) -> float:
        now = time.monotonic()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1.0
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps

    def forget(self, item: Hashable) -> None:
        pass

    def num_requeues(self, item: Hashable) -> int:
        return 0


class MaxOfRateLimiter:
    """The longest delay of several limiters (client-go's ``MaxOfRateLimiter``)."""

    def __init__(self, *limiters: RateLimiter) -> None:
        self.limiters = limiters

    def when(self, item: Hashable) -> float:
        return max(limiter.when(item) for limiter in self.limiters)

    def forget(self, item: Hashable) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def num_requeues(self, item: Hashable) -> int:
        return max(limiter.num_requeues(item) for limiter in self.limiters)


def default_controller_rate_limiter() -> RateLimiter:
    return MaxOfRateLimiter(ItemExponentialFailureRateLimiter(0.005, 1000.0), BucketRateLimiter())


class RateLimitingQueue(Generic[T]):
    """A FIFO of keys for a controller's workers; see the module docstring."""

    def __init__(self, rate_limiter: RateLimiter | None = None, *, name: str = "") -> None:
        self.name = name
        self.rate_limiter = rate_limiter or default_controller_rate_limiter()
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        self._waiting: dict[T, tuple[float, asyncio.TimerHandle]] = {}
        self._shutting_down = False
        # Set whenever the queue may have an item (or is shutting down); workers re-check.
        self._has_work = asyncio.Event()
        self._idle = asyncio.Event()

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def add(self, item: T) -> None:
        if self._shutting_down or item in self._dirty:
            return
        self._dirty.add(item)
        if item in self._processing:
            return
        self._queue.append(item)
        self._notify()

    def add_after(self, item: T, delay: float) -> None:
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        loop = asyncio.get_running_loop()
        ready = loop.time() + delay
        waiting = self._waiting.get(item)
        if waiting is not None:
            if waiting[0] <= ready:
                return
            waiting[1].cancel()
        handle = loop.call_at(ready, self._ready, item)
        self._waiting[item] = (ready, handle)

    def _ready(self, item: T) -> None:
        self._waiting.pop(item, None)
        self.add(item)

    def add_rate_limited(self, item: T) -> None:
        self.add_after(item, self.rate_limiter.when(item))

    def forget(self, item: T) -> None:
        self.rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return self.rate_limiter.num_requeues(item)

    async def get(self) -> T | None:
        """The next item, marked as being processed; ``None`` once shut down."""
        while not self._queue:
            if self._shutting_down:
                return None
            self._has_work.clear()
            await self._has_work.wait()
        item = self._queue.popleft()
        self._processing.add(item)
        self._dirty.discard(item)
        return item

    def done(self, item: T) -> None:
        """The worker is finished with ``item``; queued again if it was added meanwhile."""
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            self._notify()
        if not self._processing:
            self._idle.set()

    def shut_down(self) -> None:
        self._shutting_down = True
        for _, handle in self._waiting.values():
            handle.cancel()
        self._waiting.clear()
        self._notify()

    async def shut_down_with_drain(self) -> None:
        """Shut down, then wait until no item is being processed."""
        self.shut_down()
        while self._processing:
            self._idle.clear()
            await self._idle.wait()

    def _notify(self) -> None:
        self._has_work.set()
