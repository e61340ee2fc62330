"""services/gateway/write_coalescing.py: what uvicorn writes during one loop turn (a
reply's head and body) reaches the connection as one write, in order; closing sends
what waits, aborting drops it. (test_gateway_connections serves through it.)"""

from __future__ import annotations

import asyncio
from typing import Any

from services.gateway.write_coalescing import CoalescingTransport


class Recording(asyncio.Transport):
    """A transport that keeps what is written to it, and how."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def get_write_buffer_size(self) -> int:
        return 5


async def test_the_writes_of_one_turn_leave_as_one_in_order() -> None:
    inner = Recording()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"")
    transport.writelines([b"body", b"!"])
    assert inner.writes == []
    assert transport.get_write_buffer_size() == 5 + len(b"HTTP/1.1 200 OK\r\n\r\nbody!")
    await asyncio.sleep(0)
    assert inner.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody!"]
    transport.write(b"next")  # a later turn: its own write
    await asyncio.sleep(0)
    assert inner.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody!", b"next"]


async def test_close_sends_what_waits_first_and_abort_drops_it() -> None:
    loop = asyncio.get_running_loop()
    inner = Recording()
    transport = CoalescingTransport(inner, loop)
    transport.write(b"last reply")
    transport.close()
    assert (inner.writes, inner.closed) == ([b"last reply"], True)
    await asyncio.sleep(0)
    assert inner.writes == [b"last reply"]  # sent once

    inner = Recording()
    transport = CoalescingTransport(inner, loop)
    transport.write(b"never")
    transport.abort()
    await asyncio.sleep(0)
    assert (inner.writes, inner.aborted) == ([], True)


async def test_what_waits_for_a_connection_that_ended_is_dropped() -> None:
    inner = Recording()
    transport = CoalescingTransport(inner, asyncio.get_running_loop())
    transport.write(b"too late")
    inner.closed = True  # the client hung up within the turn
    await asyncio.sleep(0)
    assert inner.writes == []
