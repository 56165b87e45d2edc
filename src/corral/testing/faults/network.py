"""Faults of the network path, on loopback and without firewall tools: an address that refuses
connections, one that never answers a SYN (a blackhole), and a server that accepts TCP but never
sends an SSH banner."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import TypeVar

from ..fleet.base import Started
from ..fleet.procfs import LISTEN, tcp_sockets

FILL_TIMEOUT = 5.0  # seconds for the kernel to queue the blackhole's filler connection

_Self = TypeVar("_Self", bound="_Endpoint")


class _Endpoint(Started):
    """An address and port that misbehave while started: a context manager."""

    def __init__(self, address: str = "127.0.0.1") -> None:
        self.address = address
        self.port = 0
        self._socket: socket.socket | None = None

    @property
    def host_string(self) -> str:
        """``address:port``, to connect to (e.g. ``Connection(fault.host_string)``)."""
        return f"{self.address}:{self.port}"

    def __repr__(self) -> str:
        state = "started" if self._socket is not None else "stopped"
        return f"<{type(self).__name__} {self.host_string} ({state})>"

    def start(self: _Self) -> _Self:
        """Bind the address (a free port) and start misbehaving; return self."""
        if self._socket is not None:
            return self
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.bind((self.address, 0))
            self.port = sock.getsockname()[1]
            self._socket = sock
            self._started(sock)
        except BaseException:
            self.stop()
            sock.close()
            raise
        return self

    def _started(self, sock: socket.socket) -> None:
        """Do what the fault does with its bound socket."""

    def stop(self) -> None:
        """Stop misbehaving and release the port; safe to call twice."""
        sock, self._socket = self._socket, None
        if sock is not None:
            sock.close()


class RefusedPort(_Endpoint):
    """A port that refuses connections (reset at once): bound, so nothing else takes it, but
    not listening, like a host whose sshd is down."""


class Blackhole(_Endpoint):
    """An address that never answers a connect: a listener whose accept queue is full.

    It listens with a backlog of 0 and one connection of its own waiting, never accepted:
    the kernel then drops every new SYN, so a client's connect hangs until its own timeout,
    as with a host behind a firewall that drops packets. No firewall tool, no root.
    """

    def __init__(self, address: str = "127.0.0.1") -> None:
        super().__init__(address)
        self._fillers: list[socket.socket] = []

    def _started(self, sock: socket.socket) -> None:
        sock.listen(0)
        deadline = time.monotonic() + FILL_TIMEOUT
        while self._queued() < 1:  # until the kernel holds a connection in the accept queue
            if time.monotonic() > deadline:
                raise OSError(f"the blackhole on {self.host_string} did not fill its queue")
            if not self._fillers:
                filler = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                self._fillers.append(filler)
                filler.settimeout(FILL_TIMEOUT)
                filler.connect((self.address, self.port))
            time.sleep(0.001)

    def _queued(self) -> int:
        for s in tcp_sockets():
            if s.state == LISTEN and (s.local, s.lport) == (self.address, self.port):
                return s.rx_queue
        return 0

    def stop(self) -> None:
        """Stop dropping connections and release the port; safe to call twice."""
        super().stop()
        while self._fillers:
            self._fillers.pop().close()


class SilentServer(_Endpoint):
    """A server that accepts TCP connections and never sends a byte (no SSH banner), like a
    hung sshd or a tarpit; ``connections`` counts what it accepted."""

    def __init__(self, address: str = "127.0.0.1") -> None:
        super().__init__(address)
        self.connections = 0
        self._held: list[socket.socket] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def _started(self, sock: socket.socket) -> None:
        sock.listen(64)
        sock.settimeout(0.05)  # so that the accepting thread sees stop() soon
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._accept, args=(sock,), name=f"corral-silent-{self.port}", daemon=True
        )
        self._thread.start()

    def _accept(self, sock: socket.socket) -> None:
        while not self._stopping.is_set():
            try:
                connection, _peer = sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(connection)  # held open, silent, until stop()
            self.connections += 1

    def stop(self) -> None:
        """Close every connection it holds and release the port; safe to call twice."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        super().stop()
        while self._held:
            with contextlib.suppress(OSError):
                self._held.pop().close()
