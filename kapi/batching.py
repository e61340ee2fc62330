"""Natural batching of calls to a peer service.

A Python gRPC call costs a peer about a quarter of a millisecond of CPU on each side,
whatever it carries: one 1 KB item per call gives ~2,900 items/s between two
processes here, 8 per call ~29,000, 16 per call ~52,000 (grpc.aio on uvloop, 2 cores).
So a client sends a call at once when nothing is on its way, and the calls that arrive
meanwhile wait and leave together in the next batch, as a group commit does. Under
light load nothing waits; under heavy load each hop's fixed cost is shared by the calls
queued behind it. One batch in flight gave the most creates/s (one in flight: ~580/s
and 1.6 ms of CPU per create over the four services; four: ~500/s and 2.0 ms), but it
must not let one slow call hold up the rest: when the newest batch has been out for
``stall`` seconds and calls wait, another batch leaves, up to ``max_in_flight``.

Each call keeps its own outcome: ``send`` returns one result per request, a value or
the exception that request failed with; an exception raised by ``send`` itself (the
peer is unavailable) fails every call of that batch. ``send`` runs with the audit IDs
of its requests bound, in order (``kapi.audit_id``), so the peer logs each item under
its own request's id.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from kapi import audit_id, errors

Req = TypeVar("Req")
Rep = TypeVar("Rep")

# Reads that are answered at once (a quorum read, or whatever the cache holds); a read
# at a resourceVersion the server has not reached yet may wait seconds for it, and is
# not batched, so that it holds up no other call.
PROMPT_READS = ("", "0")

MAX_BATCH = 64
MAX_IN_FLIGHT = 8
STALL_SECONDS = 0.005

Send = Callable[[list[Req]], Awaitable[Sequence[Rep | BaseException]]]


class Batcher(Generic[Req, Rep]):
    def __init__(
        self,
        send: Send[Req, Rep],
        *,
        max_batch: int = MAX_BATCH,
        max_in_flight: int = MAX_IN_FLIGHT,
        stall: float = STALL_SECONDS,
    ) -> None:
        self._send = send
        self.max_batch = max_batch
        self.max_in_flight = max_in_flight
        self.stall = stall
        self._waiting: list[tuple[Req, asyncio.Future[Rep], str]] = []
        self._in_flight = 0
        self._departed = 0.0  # when the newest batch left
        self._timer: asyncio.TimerHandle | None = None
        self._flying: dict[asyncio.Task[None], list[asyncio.Future[Rep]]] = {}
        self.batches = 0  # sent so far (for tests and curiosity)

    async def call(self, request: Req) -> Rep:
        future: asyncio.Future[Rep] = asyncio.get_running_loop().create_future()
        self._waiting.append((request, future, audit_id.current()))
        self._dispatch()
        return await future

    def _may_depart(self, now: float) -> bool:
        if self._in_flight == 0:
            return True
        return self._in_flight < self.max_in_flight and now - self._departed >= self.stall

    def _dispatch(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            now = loop.time()
            if not self._may_depart(now):
                if self._timer is None and self._in_flight < self.max_in_flight:
                    self._timer = loop.call_at(self._departed + self.stall, self._on_timer)
                return
            self._departed = now
            batch = self._waiting[: self.max_batch]
            del self._waiting[: self.max_batch]
            batch = [(r, f, i) for r, f, i in batch if not f.done()]  # callers that gave up
            if not batch:
                continue
            self._in_flight += 1
            self.batches += 1
            task = asyncio.create_task(self._run(batch))
            self._flying[task] = [future for _, future, _ in batch]
            task.add_done_callback(self._landed)

    def _on_timer(self) -> None:
        self._timer = None
        self._dispatch()

    def _landed(self, task: asyncio.Task[None]) -> None:
        for future in self._flying.pop(task, []):
            future.cancel()  # a no-op for answered calls; a batch cancelled before it ran

    async def _run(self, batch: list[tuple[Req, asyncio.Future[Rep], str]]) -> None:
        audit_id.bind([i for _, _, i in batch])  # this task's own context
        try:
            results = await self._send([request for request, _, _ in batch])
            if len(results) != len(batch):
                raise errors.internal(f"a batch of {len(batch)} got {len(results)} results")
        except Exception as exc:
            for _, future, _ in batch:
                if not future.done():
                    future.set_exception(exc)
        else:
            for (_, future, _), result in zip(batch, results, strict=True):
                if future.done():
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
        finally:
            self._in_flight -= 1
            self._dispatch()

    async def close(self) -> None:
        """Cancel what is in flight or waiting (its callers see CancelledError)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for _, future, _ in self._waiting:
            future.cancel()
        self._waiting.clear()
        tasks = list(self._flying)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
