"""One TLS record and one socket write per reply, not one per part of it.

uvicorn writes a reply's status line and headers as soon as the app starts it, and
its body when the app sends it: two ``transport.write`` calls, which over TLS are two
records (each encrypted and framed on its own) and two ``send`` system calls, for
every request. ``CoalescingTransport`` stands between uvicorn and the connection's
transport: what is written during one turn of the event loop goes out as one write
at the end of that turn (``loop.call_soon``), so a reply sent whole — every reply but
a streamed one — is one record and one system call; the parts of a stream are sent as
they come (the turn in which the headers are written ends at the stream's first
``await``). Measured in bench/README.md.

Everything else is the wrapped transport's: flow control (its buffer and its limits,
plus what waits here for the end of the turn), reading, extra info. ``close`` sends
what waits first, as the transport itself would; ``abort`` discards it, as the
transport discards its own buffer.
"""

from __future__ import annotations

import asyncio
from typing import Any


class CoalescingTransport(asyncio.Transport):
    """``transport`` whose writes within one loop turn leave as one."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__()
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes | bytearray | memoryview] = []
        self._pending_bytes = 0

    # --- writing --------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self.flush)
        self._pending.append(data)
        self._pending_bytes += len(data)

    def writelines(self, list_of_data: Any) -> None:
        for data in list_of_data:
            self.write(data)

    def flush(self) -> None:
        """Send what was written since the last flush, as one write."""
        if not self._pending:
            return
        pending = self._pending
        self._pending = []
        self._pending_bytes = 0
        if self._transport.is_closing():
            return  # the connection ended (or was closed) in the meantime
        self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._pending = []
        self._pending_bytes = 0
        self._transport.abort()

    def can_write_eof(self) -> bool:
        return self._transport.can_write_eof()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + self._pending_bytes

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._transport.get_write_buffer_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        self._transport.set_write_buffer_limits(high, low)

    # --- the rest is the transport's ---------------------------------------------------

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._transport.set_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._transport.get_protocol()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()
