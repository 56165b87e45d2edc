"""A throwaway fleet of SSH hosts on loopback, for tests and demos.

```python
from corral.testing.fleet import start_fleet

with start_fleet(3) as fleet:          # 3 hosts: host1..host3 on 127.X.Y.1..3, one port
    fleet.ssh_config_path              # ssh -F <this> host1 ...   (host key checking stays on)
    fleet.host_strings                 # ["corral-test@127.X.Y.1:PORT", ...]
```

Shaped like httpcore's backends: ``base.py`` holds what every fleet offers (`FleetHost`, the
`Fleet` protocol, `FleetError`, `FleetUnavailable`); ``sshd.py`` is `SSHDFleet`, real OpenSSH
sshd processes (root), built from ``procfs.py`` (processes and sockets), ``lease.py`` (address
blocks), ``users.py`` (the login user, sudo, the password), ``files.py`` (keys and configs),
``listener.py`` (the sshd processes) and ``tinydisk.py`` (a full-disk host); ``embedded/`` is
corral's own SSH server on asyncssh, for where sshd cannot run. `start_fleet` picks one, and
imports the embedded server only when it is the one.

Users. The sshd fleet's login user (default ``corral-test``) is created if missing, gets plain,
silent shell rc files, a random password (``fleet.password``) and sudo rights that require that
password; a second user ``corral-other`` (no sudo, no login) exists as a ``sudo -u`` target.
Running fleets that share a user, in any process, share its password; the current password and
its holders are kept root-only in ``/run/corral-fleet/USER.password.json``. Users and the
sudoers file are left in place by ``stop()``.

Files in ``fleet.directory``: ``id``/``id.pub`` (client key), ``authorized_keys``,
``ssh_config`` (one ``Host`` block per host), ``known_hosts`` (the real host key of every
address), ``sshd_K.conf``/``.log``/``.pid``, ``hostkey_K``, ``fleet.json`` (state, mode 0600).
A directory the fleet created itself (the default) is removed by ``stop()``; pass ``directory``
to keep the logs.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import listener
from .base import Fleet, FleetError, FleetHost, FleetUnavailable
from .listener import MAX_LISTEN_SOCKS
from .sshd import SSHDFleet
from .tinydisk import TinyDisk
from .users import OTHER_USER

if TYPE_CHECKING:
    from .embedded import EmbeddedFleet

__all__ = [
    "MAX_LISTEN_SOCKS",
    "OTHER_USER",
    "EmbeddedFleet",
    "Fleet",
    "FleetError",
    "FleetHost",
    "FleetUnavailable",
    "SSHDFleet",
    "TinyDisk",
    "sshd_available",
    "start_fleet",
]


def sshd_available() -> bool:
    """True when :class:`SSHDFleet` can run here (root, sshd and its tools installed)."""
    return listener.unavailable_reason() is None


def start_fleet(hosts: int = 3, directory: str | Path | None = None, **kwargs: Any) -> Fleet:
    """Start and return a fleet of ``hosts`` SSH hosts (keyword arguments go to the fleet).

    Real sshd processes when running as root with OpenSSH installed; otherwise corral's
    embedded SSH server (unless ``embedded_fallback=False``, or options only sshd has were
    asked for: then :class:`FleetUnavailable` saying why).
    """
    embedded_fallback = kwargs.pop("embedded_fallback", True)
    reason = listener.unavailable_reason()
    if reason is None:
        fleet = SSHDFleet(hosts, directory, **kwargs)
        try:
            return fleet.start()
        except BaseException:
            fleet.stop()  # the caller never sees this fleet: remove its temporary directory
            raise
    if embedded_fallback:
        from .embedded import EmbeddedFleet  # only when it is the one, as httpcore's auto.py

        alias_prefix = kwargs.pop("alias_prefix", "host")
        if kwargs:
            raise FleetUnavailable(
                f"real sshd is needed for {', '.join(sorted(kwargs))} ({reason})"
            )
        return EmbeddedFleet(hosts, directory, alias_prefix=alias_prefix).start()
    raise FleetUnavailable(f"cannot start a fleet of real sshd processes: {reason}")


def __getattr__(name: str) -> Any:
    """Import `EmbeddedFleet` on first use (``from corral.testing.fleet import EmbeddedFleet``)."""
    if name == "EmbeddedFleet":
        from .embedded import EmbeddedFleet

        return EmbeddedFleet
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
