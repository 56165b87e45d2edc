"""Leases on loopback address blocks and ports, held with lock files in ``/run/corral-fleet``,
so two fleets (in one process or several) never share an address."""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import socket
from collections.abc import Iterator
from pathlib import Path

from .base import FleetError
from .procfs import tcp_sockets

LOCK_DIR = Path("/run/corral-fleet")  # address-block leases and the user-setup lock


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` (created if missing) for the block's duration."""
    LOCK_DIR.mkdir(mode=0o755, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class Lease:
    """Exclusive use of the address blocks 127.X.Y .. 127.X.(Y+k-1) while held."""

    def __init__(self) -> None:
        self._held: list[tuple[int, Path]] = []

    def try_add(self, path: Path, note: str) -> bool:
        """Lock one more block's lock file; False when another fleet holds it."""
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # the file may have been unlinked by its previous holder after we opened it
            if os.fstat(fd).st_ino != os.stat(path).st_ino:
                raise OSError("lock file replaced")
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, note.encode())
        self._held.append((fd, path))
        return True

    def release(self) -> None:
        """Give every block back."""
        while self._held:
            fd, path = self._held.pop()
            with contextlib.suppress(OSError):
                path.unlink()  # unlink while still locked: see the inode check in try_add
            os.close(fd)


def lease_block(octets: int, note: str) -> tuple[int, int, Lease]:
    """Pick a random 127.X.Y block (X in 100..250) spanning ``octets`` third octets that no
    socket uses, and lease it; return (X, Y, lease)."""
    LOCK_DIR.mkdir(mode=0o755, exist_ok=True)
    rng = random.SystemRandom()
    for _ in range(500):
        x, y = rng.randint(100, 250), rng.randint(0, 256 - octets)
        lease = Lease()
        if all(lease.try_add(LOCK_DIR / f"127.{x}.{y + k}.lock", note) for k in range(octets)):
            prefixes = tuple(f"127.{x}.{y + k}." for k in range(octets))
            if not any(
                s.local.startswith(prefixes) or s.remote.startswith(prefixes) for s in tcp_sockets()
            ):
                return x, y, lease
        lease.release()
    raise FleetError("found no free loopback address block 127.X.Y (X in 100..250)")


def pick_port(addresses: list[str]) -> int:
    """A port free on the first address (the kernel's choice) that nothing else listens on,
    on any of ``addresses`` or on a wildcard address."""
    wanted = set(addresses) | {"0.0.0.0", "::"}
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((addresses[0], 0))
            port: int = s.getsockname()[1]
        socks = tcp_sockets() + tcp_sockets(v6=True)
        if not any(s.lport == port and s.local in wanted for s in socks):
            return port
    raise FleetError(f"found no free port on {addresses[0]}")
