"""The log backend: events to JSON lines on a thread of their own, in kube's three modes.

kube-apiserver's ``--audit-log-mode`` (k8s.io/apiserver/pkg/server/options/audit.go):

- ``blocking`` (kube's default for the log): a request waits for each of its events to
  be written; a failed write is logged and the request goes on.
- ``blocking-strict``: the same, but a request whose RequestReceived event could not be
  written fails with 500 "failed to store audit event" before it is served.
- ``batch``: a request never waits; events wait in a buffer of
  ``--audit-log-batch-buffer-size`` events (kube's default 10,000). A full buffer drops
  the event and logs an error (kube: "audit buffer queue blocked").

The event loop never writes or waits on the disk: it encodes an event carrying under
``INLINE_ENCODE_BYTES`` of objects itself (a few microseconds; larger ones are encoded
on the thread) and queues it in a list; one flusher hands all that queued to the writer
thread in one call (encode what is left, write, rotate), and on its return resolves the
waiters of that batch and hands over the next. Under load many events share one hop
and one ``write()``; in batch mode the flusher lets events gather ``BATCH_LINGER``
first.

When the disk is slow: in the blocking modes the requests being audited take as long as
their events take to reach the file (kube alike) while the loop keeps serving others;
what waits is bounded by the requests in flight. In batch mode requests are not slowed;
the buffer fills, and beyond ``buffer_size`` events or ``max_buffer_bytes`` of request
and response objects (kapi's bound: the objects are held until written) events are
dropped, counted, and reported in the log at most every ``REPORT_SECONDS``.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import threading
import time
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from services.gateway.auditing import encoding
from services.gateway.auditing.log_file import LineWriter

log = logging.getLogger(__name__)

DEFAULT_BUFFER_SIZE = 10_000  # kube's defaultBatchBufferSize
DEFAULT_MAX_BUFFER_BYTES = 64 * 1024 * 1024
REPORT_SECONDS = 10.0
BATCH_LINGER = 0.005  # seconds batch mode lets events gather before a write
# Events carrying fewer bytes of objects than this are encoded on the event loop (a few
# microseconds), larger ones on the writer thread.
INLINE_ENCODE_BYTES = 16 * 1024


def _stored(ok: bool) -> asyncio.Future[bool]:
    done: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    done.set_result(ok)
    return done


class Mode(enum.StrEnum):
    BATCH = "batch"
    BLOCKING = "blocking"
    BLOCKING_STRICT = "blocking-strict"


class LogBackend:
    """Events in, lines out. ``process`` runs on the event loop; the writer on its
    thread."""

    def __init__(
        self,
        writer: LineWriter,
        *,
        mode: Mode = Mode.BLOCKING,
        buffer_size: int = DEFAULT_BUFFER_SIZE,
        max_buffer_bytes: int = DEFAULT_MAX_BUFFER_BYTES,
    ) -> None:
        self.writer = writer
        self.mode = mode
        self.buffer_size = buffer_size
        self.max_buffer_bytes = max_buffer_bytes
        self._queue: list[tuple[dict[str, Any] | bytes, asyncio.Future[bool] | None]] = []
        self._queued_bytes = 0
        self._flusher: asyncio.Task[None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kapi-audit-log")
        self._closed = False
        self.dropped = 0
        self.failed = 0
        self._last_report = 0.0
        self._unreported = 0
        self._report_lock = threading.Lock()  # the loop drops, the writer thread fails

    @property
    def blocking(self) -> bool:
        return self.mode is not Mode.BATCH

    def process(self, event: dict[str, Any], weight: int) -> Awaitable[bool] | None:
        """Queue one event; in the blocking modes, a future that says whether it was
        written (the caller awaits it)."""
        if self._closed:
            return None
        if not self.blocking and (
            len(self._queue) >= self.buffer_size
            or (weight and self._queued_bytes + weight > self.max_buffer_bytes)
        ):
            self.dropped += 1
            self._report("audit buffer queue blocked: event dropped")
            return None
        loop = asyncio.get_running_loop()
        item: dict[str, Any] | bytes = event
        if weight <= INLINE_ENCODE_BYTES:
            # Small: encoded here, so the thread only writes (and barely holds the GIL).
            try:
                item = encoding.encode(event)
            except encoding.UnencodableEvent as exc:
                self._failure(f"encoding an audit event (audit ID {event.get('auditID')}): {exc}")
                return _stored(False) if self.blocking else None
        waiter: asyncio.Future[bool] | None = loop.create_future() if self.blocking else None
        self._queue.append((item, waiter))
        self._queued_bytes += weight
        if self._flusher is None:
            self._flusher = loop.create_task(self._flush())
        return waiter

    async def close(self) -> None:
        """Write what is queued, then close the file."""
        self._closed = True
        while self._flusher is not None:
            await asyncio.shield(self._flusher)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self.writer.close)
        self._executor.shutdown(wait=False)

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self._queue:
                # Let the requests ready to run queue theirs too: one hop for them all.
                # Batch mode can wait longer (nobody waits for the write).
                await asyncio.sleep(BATCH_LINGER if not self.blocking else 0)
                batch, self._queue = self._queue, []
                self._queued_bytes = 0
                events = [item for item, _ in batch]
                try:
                    written = await loop.run_in_executor(self._executor, self._write, events)
                except Exception:  # the writer itself broke: nothing of the batch is known
                    log.exception("writing audit events")
                    written = [False] * len(batch)
                for (_, waiter), ok in zip(batch, written, strict=True):
                    if waiter is not None and not waiter.done():
                        waiter.set_result(ok)
        finally:
            self._flusher = None

    def _write(self, events: list[dict[str, Any] | bytes]) -> list[bool]:
        """On the writer thread: encode the events not encoded yet, write the lines."""
        lines: list[bytes] = []
        where: list[int] = []  # index in events of each line
        ok = [False] * len(events)
        for index, event in enumerate(events):
            if isinstance(event, bytes):
                lines.append(event)
                where.append(index)
                continue
            try:
                lines.append(encoding.encode(event))
                where.append(index)
            except encoding.UnencodableEvent as exc:
                self._failure(f"encoding an audit event (audit ID {event.get('auditID')}): {exc}")
        for index, error in zip(where, self.writer.write(lines), strict=True):
            if error is None:
                ok[index] = True
            else:
                self._failure(f"writing an audit event: {error}")
        return ok

    def _failure(self, message: str) -> None:
        with self._report_lock:
            self.failed += 1
        self._report(message)

    def _report(self, message: str) -> None:
        """Log a lost event, at most once per REPORT_SECONDS (with the count since)."""
        with self._report_lock:
            now = time.monotonic()
            if now - self._last_report < REPORT_SECONDS:
                self._unreported += 1
                return
            unreported, self._unreported = self._unreported, 0
            self._last_report = now
        more = f" (and {unreported} more lost since the last report)" if unreported else ""
        log.error("%s%s", message, more)
