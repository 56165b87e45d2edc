"""`CoalescingConnector`: TCP connections whose writes of one event-loop turn go out as one.

asyncssh writes each SSH packet to the socket at once, and puts an empty MSG_IGNORE packet
before each: a 100 MiB upload made about 6,400 `send()` calls of 32 KiB and less. On loopback
the kernel runs the receiver's side inside each `send()`, and every one wakes sshd: that was
21% of the client's samples in a profile of a put. Here the packets written during one turn
of the loop are joined and sent together, as OpenSSH's own output buffer does; the order of
bytes is unchanged and nothing waits longer than the current turn.

asyncssh takes it through its `tunnel=` argument (an object with `create_connection`), for
direct connections only: gateways and ProxyCommands keep their own transports.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

#: Bytes gathered before they are written without waiting for the end of the loop's turn.
FLUSH_AT = 4 * 1024 * 1024


class _CoalescingTransport:
    """The part of asyncio's socket transport asyncssh uses, with writes joined per turn."""

    def __init__(self, real: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._real = real
        self._loop = loop
        self._pending: list[bytes] = []
        self._size = 0
        self._scheduled = False

    def write(self, data: bytes) -> None:
        """Queue `data`; it is sent with the rest of this turn's writes."""
        if not data:
            return
        self._pending.append(data)
        self._size += len(data)
        if self._size >= FLUSH_AT:
            self._flush()
        elif not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        if not self._pending:
            return
        data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
        self._pending.clear()
        self._size = 0
        if not self._real.is_closing():
            self._real.write(data)

    def close(self) -> None:
        """Send what is queued, then close."""
        self._flush()
        self._real.close()

    def abort(self) -> None:
        """Drop what is queued and close at once."""
        self._pending.clear()
        self._size = 0
        self._real.abort()

    def is_closing(self) -> bool:
        """True once the socket is closing or closed."""
        return self._real.is_closing()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """Return the socket transport's extra info (peername, sockname, socket)."""
        return self._real.get_extra_info(name, default)

    def pause_reading(self) -> None:
        """Stop reading from the socket."""
        self._real.pause_reading()

    def resume_reading(self) -> None:
        """Resume reading from the socket."""
        self._real.resume_reading()

    def get_write_buffer_size(self) -> int:
        """Return the bytes waiting to be sent (queued here and in the socket transport)."""
        return self._size + self._real.get_write_buffer_size()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        """Set the socket transport's flow-control limits."""
        self._real.set_write_buffer_limits(high, low)


class _Protocol(asyncio.Protocol):
    """Hands asyncssh's connection the coalescing transport; passes everything else on."""

    def __init__(self, inner: asyncio.Protocol) -> None:
        self.inner = inner

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        wrapped = _CoalescingTransport(transport, asyncio.get_running_loop())
        self.inner.connection_made(wrapped)  # type: ignore[arg-type]

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class CoalescingConnector:
    """Opens the TCP connection of an SSH connection, with coalesced writes (asyncssh's
    `tunnel=`)."""

    def __init__(
        self, family: int = socket.AF_UNSPEC, local_addr: tuple[str, int] | None = None
    ) -> None:
        self._family = family
        self._local_addr = local_addr  # the source address (config bind_address)

    async def create_connection(
        self, session_factory: Callable[[], asyncio.Protocol], host: str, port: int
    ) -> tuple[asyncio.BaseTransport, asyncio.Protocol]:
        """Connect to host:port; return the transport and asyncssh's connection object."""
        loop = asyncio.get_running_loop()
        inner = session_factory()
        transport, _ = await loop.create_connection(
            lambda: _Protocol(inner),
            host,
            port,
            family=self._family,
            local_addr=self._local_addr,
        )
        return transport, inner
