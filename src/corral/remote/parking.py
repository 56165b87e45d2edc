"""`Parking`: open SSH connections kept after their Connection closed, for the next Connection
with exactly the same settings (the broker's ControlPersist).

Only a process that asks for it parks (the broker sets `Link._parking`); elsewhere closing a
Connection closes its SSH connection, as always. A connection is handed to a new Connection
only when every setting that decides who connects where and how is the same: host, port,
user, key files (and their contents' stamps), passwords and passphrases (compared by digest),
agent, known_hosts files (and their stamps), host key policy, ProxyCommand, timeouts.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
from dataclasses import dataclass

from ..config.secret import reveal
from ..transport.ssh import SSHTransport
from ..transport.target import ConnectTarget

log = logging.getLogger("corral.remote")

#: Seconds a parked connection stays open unless the parking says otherwise.
DEFAULT_PERSIST = 60.0


def _stamp(path: str) -> str:
    try:
        info = os.stat(os.path.expanduser(path))
    except OSError:
        return f"{path}:-"
    return f"{path}:{info.st_ino}:{info.st_size}:{info.st_mtime_ns}"


def connection_key(target: ConnectTarget) -> str:
    """Return a digest of everything that decides what an SSH connection to `target` is."""
    verifier = target.verifier
    parts = [
        target.label,
        target.hostname,
        str(target.port),
        target.user,
        verifier.host,
        verifier.policy,
        str(verifier.hash_new),
        verifier.write_file,
        *(_stamp(path) for path in verifier.files),
        "keys",
        *(_stamp(path) for path in target.client_keys or ()),
        str(target.client_keys is None),
        reveal(target.password) or "",
        reveal(target.passphrase) or "",
        target.agent_path or os.environ.get("SSH_AUTH_SOCK", ""),
        str(target.use_agent),
        str(target.forward_agent),
        repr(target.connect_timeout),
        repr(target.login_timeout),
        repr(target.keepalive_interval),
        str(target.keepalive_count_max),
        target.proxy_command or "",
        str(target.max_sessions),
        repr(sorted((str(k), repr(v)) for k, v in target.extra.items())),
    ]
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogateescape")).hexdigest()


@dataclass(eq=False)
class _Parked:
    transport: SSHTransport
    loop: asyncio.AbstractEventLoop
    expiry: asyncio.TimerHandle | None = None


class Parking:
    """Connections kept open for `persist` seconds after their last user closed them."""

    def __init__(self, persist: float = DEFAULT_PERSIST) -> None:
        self.persist = persist
        self._parked: dict[str, list[_Parked]] = {}
        #: Connections handed to a new Connection instead of a handshake (for tests, benchmarks).
        self.reused = 0

    def __len__(self) -> int:
        return sum(len(entries) for entries in self._parked.values())

    def park(self, key: str, transport: SSHTransport) -> None:
        """Keep an open connection for `persist` seconds (closed then, unless taken)."""
        loop = asyncio.get_running_loop()
        entry = _Parked(transport, loop)
        entry.expiry = loop.call_later(self.persist, self._expire, key, entry)
        self._parked.setdefault(key, []).append(entry)

    def take(self, key: str) -> SSHTransport | None:
        """Return a parked connection with these settings on this loop, still open, or None."""
        loop = asyncio.get_running_loop()
        entries = self._parked.get(key, [])
        while entries:
            entry = entries.pop()
            if entry.expiry is not None:
                entry.expiry.cancel()
            if entry.loop is loop and not entry.transport.is_closed:
                if not entries:
                    self._parked.pop(key, None)
                self.reused += 1
                return entry.transport
            if entry.loop is loop:
                entry.transport.close()
        self._parked.pop(key, None)
        return None

    def _expire(self, key: str, entry: _Parked) -> None:
        entries = self._parked.get(key, [])
        if entry not in entries:
            return
        entries.remove(entry)
        if not entries:
            self._parked.pop(key, None)
        log.debug("closing a connection parked for %g s", self.persist)
        entry.transport.close()

    def close_all(self) -> None:
        """Close every parked connection (the broker is stopping)."""
        parked, self._parked = self._parked, {}
        for entries in parked.values():
            for entry in entries:
                if entry.expiry is not None:
                    entry.expiry.cancel()
                entry.transport.close()
