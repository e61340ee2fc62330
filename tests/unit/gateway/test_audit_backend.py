"""The audit log backend (services/gateway/auditing/backend.py): kube's blocking and batch
modes with the writing on a thread, a slow disk that never stalls the event loop, a full
batch buffer that drops (kube: "audit buffer queue blocked"), and failures reported."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Sequence

import pytest

from services.gateway.auditing import backend, encoding
from services.gateway.auditing.log_file import LineWriter


class SlowDisk(LineWriter):
    """Holds each write until ``release`` is set; remembers what was written, and the
    thread it was written on."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.release.set()
        self.lines: list[bytes] = []
        self.batches = 0
        self.threads: set[str] = set()
        self.fail = False

    def write(self, lines: Sequence[bytes]) -> list[Exception | None]:
        self.threads.add(threading.current_thread().name)
        assert self.release.wait(10)
        self.batches += 1
        if self.fail:
            return [OSError(28, "No space left on device")] * len(lines)
        self.lines += lines
        return [None] * len(lines)


def event(n: int) -> dict[str, object]:
    return {"kind": "Event", "auditID": f"id-{n}"}


async def test_blocking_waits_for_the_write_off_the_loop() -> None:
    disk = SlowDisk()
    log = backend.LogBackend(disk, mode=backend.Mode.BLOCKING)
    disk.release.clear()
    pending = log.process(event(1), 0)
    assert pending is not None
    ticks = 0
    while ticks < 5:  # the loop runs while the disk holds the write
        await asyncio.sleep(0.01)
        ticks += 1
    assert not disk.lines
    disk.release.set()
    assert await pending is True
    assert disk.lines == [b'{"kind":"Event","auditID":"id-1"}\n']
    assert disk.threads == {"kapi-audit-log_0"}
    await log.close()


async def test_events_queued_during_a_write_leave_together() -> None:
    disk = SlowDisk()
    log = backend.LogBackend(disk, mode=backend.Mode.BLOCKING)
    disk.release.clear()
    first = log.process(event(0), 0)
    await asyncio.sleep(0.05)  # the first batch is on the writer thread
    rest = [log.process(event(n), 0) for n in range(1, 50)]
    disk.release.set()
    assert await asyncio.gather(first, *rest) == [True] * 50  # type: ignore[arg-type]
    assert disk.batches == 2
    assert [line.split(b'"id-')[1].split(b'"')[0] for line in disk.lines] == [
        str(n).encode() for n in range(50)
    ]
    await log.close()


async def test_a_failed_write_is_reported_and_the_request_goes_on(
    caplog: pytest.LogCaptureFixture,
) -> None:
    disk = SlowDisk()
    disk.fail = True
    log = backend.LogBackend(disk, mode=backend.Mode.BLOCKING)
    pending = log.process(event(1), 0)
    assert pending is not None and await pending is False
    assert log.failed == 1
    assert "writing an audit event: [Errno 28] No space left on device" in caplog.text
    await log.close()


async def test_batch_mode_never_waits_and_drops_beyond_its_buffer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    disk = SlowDisk()
    disk.release.clear()
    log = backend.LogBackend(disk, mode=backend.Mode.BATCH, buffer_size=3)
    assert log.process(event(0), 0) is None
    await asyncio.sleep(0.05)  # event 0 is being written; the buffer is empty again
    for n in range(1, 6):
        assert log.process(event(n), 0) is None
    assert log.dropped == 2
    assert "audit buffer queue blocked: event dropped" in caplog.text
    disk.release.set()
    await log.close()
    assert [line.split(b'"id-')[1][:1] for line in disk.lines] == [b"0", b"1", b"2", b"3"]


async def test_batch_mode_bounds_the_bytes_of_objects_it_holds() -> None:
    disk = SlowDisk()
    disk.release.clear()
    log = backend.LogBackend(disk, mode=backend.Mode.BATCH, max_buffer_bytes=1000)
    log.process(event(0), 10)
    await asyncio.sleep(0.05)
    log.process(event(1), 600)
    log.process(event(2), 600)  # 1,200 bytes of objects: dropped
    log.process(event(3), 0)
    assert log.dropped == 1
    disk.release.set()
    await log.close()
    assert len(disk.lines) == 3


async def test_an_event_that_cannot_be_encoded_is_lost_alone(
    caplog: pytest.LogCaptureFixture,
) -> None:
    disk = SlowDisk()
    log = backend.LogBackend(disk, mode=backend.Mode.BLOCKING)
    bad = {
        "auditID": "id-bad",
        "responseObject": encoding.Payload.of_json(b"{not json", compact=False),
    }
    results = await asyncio.gather(log.process(bad, 0), log.process(event(2), 0))  # type: ignore[arg-type]
    assert results == [False, True]
    assert "encoding an audit event (audit ID id-bad)" in caplog.text
    await log.close()


async def test_failures_are_reported_at_most_every_few_seconds(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = SlowDisk()
    disk.fail = True
    log = backend.LogBackend(disk, mode=backend.Mode.BLOCKING)
    with caplog.at_level(logging.ERROR):
        for n in range(3):
            await log.process(event(n), 0)  # type: ignore[misc]
        monkeypatch.setattr(time, "monotonic", lambda: 1e9)
        await log.process(event(3), 0)  # type: ignore[misc]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert messages[1].endswith("(and 2 more lost since the last report)")
    await log.close()


async def test_close_writes_what_is_queued() -> None:
    disk = SlowDisk()
    log = backend.LogBackend(disk, mode=backend.Mode.BATCH)
    for n in range(10):
        log.process(event(n), 0)
    await log.close()
    assert len(disk.lines) == 10
    assert log.process(event(11), 0) is None
