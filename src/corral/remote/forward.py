"""Fabric's `forward_local` and `forward_remote`: port forwards that live for one `with` block."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

from ..errors import ConfigError, ForwardError
from ..transport.forward import forward_local_port, forward_remote_port
from ..transport.ssh import SSHTransport

#: Opens (or reuses) the connection a forward runs over.
OpenTransport = Callable[[], Awaitable[SSHTransport]]

__all__ = ["ForwardError", "forward_local", "forward_remote"]


def _other_port(name: str, port: int | None, other_name: str, other: int) -> int:
    """Return `port`, defaulting to `other` (Fabric's rule); a port 0 cannot be a destination."""
    chosen = other if port is None else port
    if chosen == 0:
        raise ConfigError(f"{name} must be given (and not 0) when {other_name} is {other}")
    return chosen


@contextlib.asynccontextmanager
async def forward_local(
    open_transport: OpenTransport,
    local_port: int,
    remote_port: int | None = None,
    remote_host: str = "localhost",
    local_host: str = "localhost",
) -> AsyncIterator[int]:
    """Listen on `local_host:local_port` here and relay to `remote_host:remote_port` from the host.

    Yields the local port listened on (the one the system chose when `local_port` is 0).
    """
    dest_port = _other_port("remote_port", remote_port, "local_port", local_port)
    transport = await open_transport()
    forward = await forward_local_port(transport, local_host, local_port, remote_host, dest_port)
    try:
        yield forward.port
    finally:
        await forward.close()  # stops listening first thing, even when cancelled here


@contextlib.asynccontextmanager
async def forward_remote(
    open_transport: OpenTransport,
    remote_port: int,
    local_port: int | None = None,
    remote_host: str = "127.0.0.1",
    local_host: str = "localhost",
) -> AsyncIterator[int]:
    """Listen on `remote_host:remote_port` on the host and relay to `local_host:local_port` here.

    Yields the remote port listened on (the one the server chose when `remote_port` is 0).
    """
    dest_port = _other_port("local_port", local_port, "remote_port", remote_port)
    transport = await open_transport()
    forward = await forward_remote_port(transport, remote_host, remote_port, local_host, dest_port)
    try:
        yield forward.port
    finally:
        await forward.close()  # stops listening first thing, even when cancelled here
