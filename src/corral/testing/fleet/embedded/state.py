"""The embedded server's shared state: the login user's credentials and home, the process
groups of running commands (so that nothing outlives the server), and the SFTP file server."""

from __future__ import annotations

import asyncio
import os
import posixpath
import pwd
import signal
import time
from pathlib import Path

import asyncssh

KILL_GRACE = 1.0
"""Seconds between SIGHUP and SIGKILL when a command's process group is torn down."""


def user_shell() -> str:
    """Return the current user's login shell, or /bin/sh when it has none usable."""
    try:
        shell = pwd.getpwuid(os.getuid()).pw_shell
    except KeyError:
        shell = ""
    if (
        not shell
        or os.path.basename(shell) in ("nologin", "false")
        or not os.access(shell, os.X_OK)
    ):
        shell = "/bin/sh"
    return shell


class ServerState:
    """What every connection of the embedded server shares."""

    def __init__(
        self, user: str, password: str, client_key: asyncssh.SSHKey, home: Path, shell: str
    ) -> None:
        self.user = user
        self.password = password
        self.client_key_data = client_key.public_data
        self.home = home
        self.shell = shell
        self.process_groups: set[int] = set()

    def signal_group(self, pgid: int, sig: int) -> bool:
        """Send ``sig`` to a process group; False (and forget it) if the group is gone."""
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            self.process_groups.discard(pgid)
            return False
        except PermissionError:
            return False
        return True

    def terminate_group(self, pgid: int) -> None:
        """SIGHUP (and SIGCONT) now, SIGKILL after a grace period: nothing is left running."""
        if self.signal_group(pgid, signal.SIGHUP):
            self.signal_group(pgid, signal.SIGCONT)
        asyncio.get_running_loop().call_later(KILL_GRACE, self._kill_group, pgid)

    def _kill_group(self, pgid: int) -> None:
        self.signal_group(pgid, signal.SIGKILL)
        self.process_groups.discard(pgid)

    async def terminate_all(self) -> None:
        """End every command the server started: HUP, then KILL after the grace period."""
        for pgid in list(self.process_groups):
            if self.signal_group(pgid, signal.SIGHUP):
                self.signal_group(pgid, signal.SIGCONT)
        deadline = time.monotonic() + KILL_GRACE
        while self.process_groups and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            for pgid in list(self.process_groups):
                self.signal_group(pgid, 0)
        for pgid in list(self.process_groups):
            self.signal_group(pgid, signal.SIGKILL)
        self.process_groups.clear()


class HomeSFTPServer(asyncssh.SFTPServer):
    """asyncssh's SFTP server on real paths, relative paths resolved from the home."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], home: Path) -> None:
        super().__init__(chan)
        self._home = os.fsencode(home)

    def map_path(self, path: bytes) -> bytes:
        if path.startswith(b"/"):
            return path
        return posixpath.join(self._home, path)
