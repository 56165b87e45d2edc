"""`LocalProcess`: a command on this machine, in its own process group, with or without a pty;
`run_local` runs one to completion (for `Context.run` and `Connection.local`)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import subprocess
from typing import Any

from ..errors import ConfigError
from ..result import ExitStatus, Result
from .command import Env, check_env, plain_env
from .dry import dry_result
from .options import RunOptions
from .process import OutputCallback, run_process
from .sudo import SudoGuard

CHUNK = 64 * 1024


class LocalProcess:
    """A local shell command; output reaches the callback, signals reach its process group."""

    def __init__(self, proc: asyncio.subprocess.Process, master_fd: int | None) -> None:
        self._proc = proc
        self._master = master_fd
        self._readers: list[asyncio.Task[None]] = []
        self._pty_done: asyncio.Future[None] | None = None
        self._exit: asyncio.Task[ExitStatus] | None = None
        #: False when pty=True fell back to pipes (no pseudo-terminal could be opened).
        self.has_pty = master_fd is not None

    @classmethod
    async def spawn(
        cls,
        command: str,
        *,
        shell: str,
        env: Env,
        replace_env: bool,
        pty: bool,
        cwd: str | None = None,
        fallback: bool = True,
    ) -> LocalProcess:
        """Start `command` under `shell -c`; its output waits for `start_output`."""
        full_env = plain_env(env) if replace_env else {**os.environ, **plain_env(env)}
        master: int | None = None
        slave = -1
        if pty:
            try:
                master, slave = os.openpty()
            except OSError as exc:
                if not fallback:
                    raise ConfigError(
                        f"pty=True: no pseudo-terminal can be opened here ({exc.strerror}); "
                        "run without a pty, or leave fallback=True"
                    ) from exc
                master = None  # Invoke's fallback: run without one
        if master is not None:
            try:
                proc = await asyncio.create_subprocess_exec(
                    shell, "-c", command, stdin=slave, stdout=slave, stderr=slave,
                    env=full_env, cwd=cwd, start_new_session=True,
                )  # fmt: skip
            finally:
                os.close(slave)
        else:
            proc = await asyncio.create_subprocess_exec(
                shell, "-c", command,
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE, env=full_env, cwd=cwd, start_new_session=True,
            )  # fmt: skip
        return cls(proc, master)

    def start_output(self, on_output: OutputCallback) -> None:
        """Deliver the command's output to `on_output` (the pipes hold what came before)."""
        loop = asyncio.get_running_loop()
        if self._master is not None:
            self._pty_done = loop.create_future()
            loop.add_reader(self._master, self._read_pty, on_output)
        else:
            proc = self._proc
            assert proc.stdout is not None and proc.stderr is not None
            self._readers = [
                loop.create_task(self._pump(proc.stdout, "stdout", on_output)),
                loop.create_task(self._pump(proc.stderr, "stderr", on_output)),
            ]

    @staticmethod
    async def _pump(reader: asyncio.StreamReader, name: str, on_output: OutputCallback) -> None:
        while data := await reader.read(CHUNK):
            on_output(name, data)

    def _read_pty(self, on_output: OutputCallback) -> None:
        assert self._master is not None and self._pty_done is not None
        try:
            data = os.read(self._master, CHUNK)
        except OSError:  # EIO: every holder of the slave side has gone
            data = b""
        if data:
            on_output("stdout", data)
            return
        asyncio.get_running_loop().remove_reader(self._master)
        if not self._pty_done.done():
            self._pty_done.set_result(None)

    def write(self, data: bytes) -> None:
        """Write bytes to the command's stdin."""
        if self._master is not None:
            with contextlib.suppress(OSError):
                os.write(self._master, data)
        elif self._proc.stdin is not None and not self._proc.stdin.is_closing():
            self._proc.stdin.write(data)

    def write_eof(self) -> None:
        """Close the command's stdin (on a pty: send the terminal's EOF character)."""
        if self._master is not None:
            with contextlib.suppress(OSError):
                os.write(self._master, b"\x04")
        elif self._proc.stdin is not None and not self._proc.stdin.is_closing():
            self._proc.stdin.close()

    def send_signal(self, name: str) -> None:
        """Signal the command's whole process group."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, getattr(signal, f"SIG{name}"))

    def close(self) -> None:
        """Kill the process group and release the pty."""
        self.send_signal("KILL")
        if self._master is not None:
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_reader(self._master)
            with contextlib.suppress(OSError):
                os.close(self._master)
            self._master = None
            if self._pty_done is not None and not self._pty_done.done():
                self._pty_done.set_result(None)

    async def _finish(self) -> ExitStatus:
        code = await self._proc.wait()
        if self._readers:
            await asyncio.gather(*self._readers)
        if self._pty_done is not None:
            # The pty's output ends when the last process holding it exits; a background
            # child may keep it open, so read what is buffered and stop shortly after exit.
            with contextlib.suppress(TimeoutError, asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._pty_done), 0.5)
            self.close_pty()
        if code < 0:
            return ExitStatus(128 - code, signal.Signals(-code).name.removeprefix("SIG"))
        return ExitStatus(code)

    def close_pty(self) -> None:
        """Release the pty's master side after the command ended."""
        if self._master is not None:
            with contextlib.suppress(ValueError, OSError):
                asyncio.get_running_loop().remove_reader(self._master)
            with contextlib.suppress(OSError):
                os.close(self._master)
            self._master = None

    async def wait(self) -> ExitStatus:
        """Wait until the command exited and its output was delivered."""
        if self._exit is None:
            self._exit = asyncio.ensure_future(self._finish())
        return await asyncio.shield(self._exit)


async def run_local(
    command: str,
    options: RunOptions,
    *,
    display: str | None = None,
    dry: bool = False,
    connection: Any = None,
    guard: SudoGuard | None = None,
) -> Result:
    """Run a shell command on this machine to completion and return its Result.

    `display` is the command as shown in echo, dry runs and errors (default: `command`);
    with `dry`, the command is printed and not run.
    """
    shown = command if display is None else display
    check_env(options.env)
    if dry:
        return dry_result(shown, host="local", connection=connection)

    process = await LocalProcess.spawn(
        command,
        shell=options.shell,
        env=options.env,
        replace_env=options.replace_env,
        pty=options.pty,
        fallback=options.fallback,
    )
    if options.pty and not process.has_pty:
        options = dataclasses.replace(options, pty=False)
    return await run_process(
        process,
        options,
        command=command,
        display=shown,
        host="local",
        connection=connection,
        guard=guard,
    )


def spawn_detached(command: str, options: RunOptions) -> None:
    """Start `command` in a session of its own, stdio at /dev/null, and return at once
    (`disown=True`): it outlives corral, as Invoke's disowned commands do."""
    check_env(options.env)
    env = (
        plain_env(options.env) if options.replace_env else {**os.environ, **plain_env(options.env)}
    )
    # the shell backgrounds the command and exits: nothing is left for us to reap
    subprocess.run(
        [options.shell, "-c", f"( {command}\n) </dev/null >/dev/null 2>&1 &"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
        start_new_session=True,
        check=False,
    )
