"""`RemoteProcess`: a command on a host that can be stopped even where sshd refuses signals.

sshd refuses signal requests for root logins, and cannot deliver them to processes sudo made
root; every remote command carries a run marker in its environment, so when a signalled
command is still running shortly afterwards, a second command finds its processes by that
marker and signals them (as the login user, or through sudo).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from ..result import ExitStatus
from ..runner.process import OutputCallback
from ..transport.ssh import SSHProcess

#: Seconds to wait for a signalled command before stopping it another way, and for that.
SIGNAL_FALLBACK_DELAY = 0.5
SIGNAL_FALLBACK_TIMEOUT = 10.0

#: Signals a running command's processes by its marker, through another channel.
Kill = Callable[[str], Awaitable[object]]


class RemoteProcess:
    """An SSHProcess whose signals fall back to `kill` (implements runner.process.Process)."""

    def __init__(self, process: SSHProcess, kill: Kill) -> None:
        self._process = process
        self._kill = kill
        self._helpers: set[asyncio.Task[None]] = set()

    def start_output(self, on_output: OutputCallback) -> None:
        """Deliver the command's output to `on_output` (what arrived before first)."""
        self._process.start_output(on_output)

    def write(self, data: bytes) -> None:
        """Write bytes to the remote stdin."""
        self._process.write(data)

    def write_eof(self) -> None:
        """Close the remote stdin."""
        self._process.write_eof()

    def send_signal(self, name: str) -> None:
        """Signal the command: a channel request, then by its marker if it is still running."""
        self._process.send_signal(name)
        task = asyncio.get_running_loop().create_task(self._fallback(name))
        self._helpers.add(task)
        task.add_done_callback(self._helpers.discard)

    async def _fallback(self, name: str) -> None:
        done = asyncio.ensure_future(self._process.wait())
        done.add_done_callback(_seen)
        try:
            await asyncio.wait({done}, timeout=SIGNAL_FALLBACK_DELAY)
        finally:
            done.cancel()
        if self._process.is_done or self._process.transport.is_closed:
            return
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._kill(name), SIGNAL_FALLBACK_TIMEOUT)

    def close(self) -> None:
        """Close the channel."""
        self._process.close()

    async def wait(self) -> ExitStatus:
        """Wait for the exit status, after all output arrived."""
        return await self._process.wait()


def _seen(future: asyncio.Future[ExitStatus]) -> None:
    """Mark a finished wait as seen: the command's own runner reports how it ended."""
    if not future.cancelled():
        future.exception()
