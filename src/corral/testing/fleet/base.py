"""What every fleet offers, whichever server runs it: `FleetHost`, the `Fleet` protocol and the
fleet errors. The implementations (`sshd.py`, `embedded/`) import this module, never each other."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Protocol

if sys.version_info >= (3, 11):
    from typing import Self
else:  # pragma: no cover
    from typing_extensions import Self

__all__ = ["Fleet", "FleetError", "FleetHost", "FleetUnavailable"]


class Started:
    """A mixin: `with x:` starts it (`start()` returns it) and stops it, whatever happens."""

    def start(self) -> Self:
        """Start it; return it."""
        raise NotImplementedError

    def stop(self) -> None:
        """Stop it, leaving nothing behind; safe to call twice."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


class FleetError(RuntimeError):
    """The fleet could not be started, restarted or stopped (the message says why)."""


class FleetUnavailable(FleetError):
    """No fleet can run here (not root, no sshd): tests that need one should be skipped."""


@dataclass(frozen=True)
class FleetHost:
    """One host of a fleet."""

    alias: str  # Host alias in the fleet's ssh_config, e.g. "host1"
    address: str  # loopback address, e.g. "127.142.7.1"
    port: int
    user: str  # login user

    @property
    def host_string(self) -> str:
        """``user@address:port``."""
        return f"{self.user}@{self.address}:{self.port}"


class Fleet(Protocol):
    """What every fleet offers: real sshd (SSHDFleet) or corral's embedded server.

    SSHDFleet also controls its server processes (restart, kill_sessions, freeze_host,
    tiny_disk, ...), for tests of faults (and corral.testing.faults); the embedded server does
    not.
    """

    directory: Path
    hosts: list[FleetHost]
    user: str
    password: str
    key_path: Path
    ssh_config_path: Path
    known_hosts_path: Path
    home: Path

    def start(self) -> Fleet:
        """Start the fleet's servers; return the fleet."""
        ...

    def stop(self) -> None:
        """Stop every process of the fleet; safe to call twice."""
        ...

    def __enter__(self) -> Fleet: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...

    def run_as_user(
        self, command: str, *, input: str | None = None, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run a shell command on this machine as the fleet's login user."""
        ...

    @property
    def host_strings(self) -> list[str]:
        """``user@address:port`` of every host."""
        ...
