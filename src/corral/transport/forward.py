"""`PortForward`: a TCP listener, here or on the remote, whose connections cross an SSHTransport.

Bind failures here and refused `tcpip-forward` requests there become `ForwardError`s.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import socket

import asyncssh

from ..errors import ForwardError
from .ssh import SSHTransport

log = logging.getLogger("corral.transport")

#: Seconds to wait for the server to confirm a remote listener is gone before moving on.
CLOSE_TIMEOUT = 5.0


class PortForward:
    """A listening port forward; connections to it are relayed over the SSH connection."""

    def __init__(
        self, listener: asyncssh.SSHListener, transport: SSHTransport, *, is_remote: bool
    ) -> None:
        self._listener = listener
        self._transport = transport
        self.is_remote = is_remote
        self._closed = False

    @property
    def port(self) -> int:
        """The port listened on (the one chosen by the system when 0 was asked for)."""
        return int(self._listener.get_port())

    async def close(self) -> None:
        """Stop listening; connections already relayed stay open until their ends close."""
        if self._closed:
            return
        self._closed = True
        self._listener.close()  # a local listener's sockets close here, synchronously
        if not self.is_remote or self._transport.is_closed:
            # Not wait_closed() for a local one: from Python 3.12 it waits for every relayed
            # connection to end. A closed transport has nobody left to confirm a remote one.
            return
        # A remote listener is gone once the server answers cancel-tcpip-forward. asyncssh
        # never reports it if the connection dies first, and a server may never answer.
        confirmed = asyncio.ensure_future(self._listener.wait_closed())
        lost = asyncio.ensure_future(self._transport.wait_closed())
        try:
            await asyncio.wait(
                {confirmed, lost}, timeout=CLOSE_TIMEOUT, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in (confirmed, lost):
                waiter.cancel()


async def forward_local_port(
    transport: SSHTransport, listen_host: str, listen_port: int, dest_host: str, dest_port: int
) -> PortForward:
    """Listen on `listen_host:listen_port` here; relay to `dest_host:dest_port` from the host."""
    label = transport.target.label
    try:
        listener = await transport.tunnel_connection().forward_local_port(
            listen_host, listen_port, dest_host, dest_port
        )
    except OSError as exc:
        raise ForwardError(
            label,
            f"cannot listen on {listen_host}:{listen_port} on this machine (to forward to "
            f"{dest_host}:{dest_port} as seen from the host): {_reason(exc)}",
        ) from exc
    log.debug(
        "%s: forwarding local %s:%d to %s:%d",
        label,
        listen_host,
        listener.get_port(),
        dest_host,
        dest_port,
    )
    return PortForward(listener, transport, is_remote=False)


async def forward_remote_port(
    transport: SSHTransport, listen_host: str, listen_port: int, dest_host: str, dest_port: int
) -> PortForward:
    """Listen on `listen_host:listen_port` on the host; relay to `dest_host:dest_port` here."""
    label = transport.target.label
    try:
        listener = await transport.tunnel_connection().forward_remote_port(
            listen_host, listen_port, dest_host, dest_port
        )
    except asyncssh.ChannelListenError as exc:
        raise ForwardError(
            label,
            f"the server refused to listen on {listen_host}:{listen_port} there: the port is "
            "already in use on the host, or its sshd forbids forwarding (AllowTcpForwarding, "
            "PermitListen); choose another remote port, or 0 to let the server choose",
        ) from exc
    except asyncssh.Error as exc:
        raise ForwardError(
            label, f"cannot listen on {listen_host}:{listen_port} there: {exc.reason}"
        ) from exc
    log.debug(
        "%s: forwarding remote %s:%d to %s:%d here",
        label,
        listen_host,
        listener.get_port(),
        dest_host,
        dest_port,
    )
    return PortForward(listener, transport, is_remote=True)


def _reason(exc: OSError) -> str:
    """Return why a bind failed, without asyncssh's wording around it."""
    if exc.errno == errno.EADDRINUSE:
        return "the address is already in use; choose another local port, or 0 for any free one"
    if isinstance(exc, socket.gaierror) or not exc.errno or exc.errno < 0:
        return exc.strerror or str(exc)
    return os.strerror(exc.errno).lower()
