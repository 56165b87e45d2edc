"""The fault kit: what corral's own tests use to break SSH hosts, for testing your corralfiles.

```python
from corral.testing import faults, start_fleet

with start_fleet(3) as fleet, faults.Faults() as kit:   # real sshd: run as root
    kit.freeze(fleet.hosts[0])           # host1 hangs: TCP up, nothing answers
    kit.kill(fleet.hosts[1])             # host2's connections drop now
    disk = kit.tiny_disk(fleet, "1m")    # a host whose disk.mount is a 1 MiB filesystem
    hole = kit.blackhole()               # connects to hole.host_string hang
    ...                                  # everything is undone when the block ends
```

Sessions (any OpenSSH sshd on this machine, found through /proc by the address it serves):
`kill_sessions`, `freeze_sessions` / `thaw_sessions` / `frozen`; a whole host, new connections
too: `frozen_host` (a fleet with one sshd per host). Network (no firewall tools,
no root): `RefusedPort`, `Blackhole` (a full accept queue: SYNs are dropped), `SilentServer`
(accepts TCP, never sends a banner). Servers (a fleet of real sshd): `tiny_disk` (a full
filesystem, in a private mount namespace), `strict_fleet` (MaxStartups, MaxSessions),
`dying_bastion` (a ProxyJump host whose sessions can be killed mid-run). `Faults` collects
them and undoes all of them at the end; the pytest fixture ``corral_faults`` is one.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Sequence
from types import TracebackType

from ..fleet import Fleet, FleetHost, TinyDisk, procfs
from .network import Blackhole, RefusedPort, SilentServer
from .sessions import (
    Bastion,
    Target,
    dying_bastion,
    freeze_sessions,
    frozen,
    frozen_host,
    kill_sessions,
    session_processes,
    strict_fleet,
    thaw_sessions,
    tiny_disk,
)

__all__ = [
    "Bastion",
    "Blackhole",
    "Faults",
    "RefusedPort",
    "SilentServer",
    "Target",
    "TinyDisk",
    "dying_bastion",
    "freeze_sessions",
    "frozen",
    "frozen_host",
    "kill_sessions",
    "session_processes",
    "strict_fleet",
    "thaw_sessions",
    "tiny_disk",
]


class Faults:
    """Faults made through it are undone together by ``close()`` (or at the end of a ``with``
    block, also when it raises): frozen sessions thawed, servers and disks stopped."""

    def __init__(self) -> None:
        self._undo = contextlib.ExitStack()

    def kill(self, *targets: Target) -> int:
        """Kill the sshd processes of the targets' connections; return how many."""
        return kill_sessions(*targets)

    def freeze(self, *targets: Target) -> int:
        """Freeze the targets' sessions until ``thaw`` or ``close``; return how many."""
        procs = session_processes(*targets)
        self._undo.callback(procfs.send_signal, procs, signal.SIGCONT)
        return procfs.freeze(procs)

    def freeze_host(self, fleet: Fleet, host: FleetHost) -> int:
        """Freeze ``host`` entirely (its own sshd too: new connections hang) until ``close``;
        return how many processes stopped (see `frozen_host`)."""
        return self._undo.enter_context(frozen_host(fleet, host))

    def thaw(self, *targets: Target) -> int:
        """Thaw the targets' sessions now; return how many sshd processes continued."""
        return thaw_sessions(*targets)

    def refused_port(self, address: str = "127.0.0.1") -> RefusedPort:
        """Return a started `RefusedPort` on ``address``."""
        return self._undo.enter_context(RefusedPort(address))

    def blackhole(self, address: str = "127.0.0.1") -> Blackhole:
        """Return a started `Blackhole` on ``address``."""
        return self._undo.enter_context(Blackhole(address))

    def silent_server(self, address: str = "127.0.0.1") -> SilentServer:
        """Return a started `SilentServer` on ``address``."""
        return self._undo.enter_context(SilentServer(address))

    def tiny_disk(self, fleet: Fleet, size: str = "1m", host: FleetHost | None = None) -> TinyDisk:
        """Return a started `TinyDisk` of ``fleet`` (real sshd)."""
        return self._undo.enter_context(tiny_disk(fleet, size, host))

    def dying_bastion(
        self,
        fleet: Fleet,
        bastion: FleetHost | None = None,
        targets: Sequence[FleetHost] | None = None,
    ) -> Bastion:
        """Return a started `Bastion` of ``fleet`` (real sshd)."""
        return self._undo.enter_context(dying_bastion(fleet, bastion, targets))

    def close(self) -> None:
        """Undo every fault made through this kit, newest first."""
        self._undo.close()

    def __enter__(self) -> Faults:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
