"""One SSH session channel of the embedded server: a command on pipes or a pty, a login shell,
or the SFTP subsystem; signals, window changes and breaks while it runs; its process group
torn down when the channel closes first."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import signal
import struct
import subprocess
import termios
import threading
from collections.abc import Mapping
from typing import cast

import asyncssh
from asyncssh.channel import SSHChannel
from asyncssh.stream import SSHServerStreamSession

from .pipes import CommandPipes
from .state import HomeSFTPServer, ServerState

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
SFTP_VERSION = 3
PTY_LINGER = 0.2
"""Seconds a pty session may outlive its command while other processes hold the terminal."""


def acquire_controlling_tty() -> None:  # pragma: no cover - runs in the forked child
    """Make the pty on stdin the controlling terminal (in the child, before exec)."""
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def set_winsize(fd: int, size: tuple[int, int, int, int]) -> None:
    """Set a pty's window size from an SSH (width, height, pixwidth, pixheight)."""
    width, height, pixwidth, pixheight = size
    if width > 0 and height > 0:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, pixwidth, pixheight))


class Session(CommandPipes, asyncssh.SSHServerSession[bytes]):
    """One session channel: a command (pipes or pty), a shell, or the SFTP subsystem."""

    def __init__(self, state: ServerState) -> None:
        self._state = state
        self._chan: asyncssh.SSHServerChannel[bytes] | None = None
        self._loop = asyncio.get_running_loop()
        self._sftp: SSHServerStreamSession[bytes] | None = None
        self._command: str | None = None
        self._pty: tuple[str, tuple[int, int, int, int]] | None = None
        self._master: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._pgid: int | None = None
        self._stdin_fd: int | None = None
        self._stdin_buf = bytearray()
        self._stdin_writer = False
        self._stdin_eof = False
        self._chan_reading_paused = False
        self._outputs: dict[int, bool] = {}  # fd -> is stderr
        self._fds: set[int] = set()  # file descriptors this session owns
        self._output_paused = False
        self._eof_sent = False
        self._status: int | None = None
        self._done = False
        self._closed = False

    # -- channel setup ------------------------------------------------------------------

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        self._chan = chan

    def pty_requested(
        self, term_type: str, term_size: tuple[int, int, int, int], term_modes: Mapping[int, int]
    ) -> bool:
        self._pty = (term_type, term_size)
        return True

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        self._command = command
        return True

    def subsystem_requested(self, subsystem: str) -> bool:
        if subsystem != "sftp" or self._chan is None:
            return False
        home = self._state.home

        def factory(chan: SSHChannel[bytes]) -> asyncssh.SFTPServer:
            return HomeSFTPServer(cast("asyncssh.SSHServerChannel[bytes]", chan), home)

        self._sftp = SSHServerStreamSession(None, factory, SFTP_VERSION)
        self._sftp.connection_made(self._chan)
        return True

    def session_started(self) -> None:
        if self._sftp is not None:
            self._sftp.session_started()
            return
        assert self._chan is not None
        try:
            self._spawn()
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            with contextlib.suppress(OSError):
                self._chan.write_stderr(f"corral embedded sshd: {exc}\r\n".encode())
                self._chan.exit(255)
            self._done = True

    # -- command process ------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        assert self._chan is not None
        state = self._state
        conn = self._chan.get_connection()
        peer = conn.get_extra_info("peername") or ("0.0.0.0", 0)
        local = conn.get_extra_info("sockname") or ("0.0.0.0", 0)
        env = {
            "HOME": str(state.home),
            "USER": state.user,
            "LOGNAME": state.user,
            "PATH": DEFAULT_PATH,
            "SHELL": state.shell,
            "SSH_CONNECTION": f"{peer[0]} {peer[1]} {local[0]} {local[1]}",
            "SSH_CLIENT": f"{peer[0]} {peer[1]} {local[1]}",
        }
        if self._pty is not None and self._pty[0]:
            env["TERM"] = self._pty[0]
        env.update(self._chan.get_environment())
        return env

    def _spawn(self) -> None:
        state = self._state
        shell = state.shell
        name = os.path.basename(shell)
        if self._command is None:
            argv = [f"-{name}"]  # login shell, like sshd does for a shell request
        else:
            argv = [name, "-c", self._command]
        cwd = str(state.home) if state.home.is_dir() else "/"
        env = self._environment()
        to_close: list[int] = []
        try:
            if self._pty is not None:
                master, slave = os.openpty()
                self._master = master
                self._fds.add(master)
                to_close.append(slave)
                set_winsize(slave, self._pty[1])
                env["SSH_TTY"] = os.ttyname(slave)
                self._proc = subprocess.Popen(
                    argv,
                    executable=shell,
                    stdin=slave,
                    stdout=slave,
                    stderr=slave,
                    cwd=cwd,
                    env=env,
                    start_new_session=True,
                    preexec_fn=acquire_controlling_tty,
                )
                self._stdin_fd = master
                self._outputs = {master: False}
            else:
                in_r, in_w = os.pipe()
                self._stdin_fd = in_w
                self._fds.add(in_w)
                to_close.append(in_r)
                out_r, out_w = os.pipe()
                self._outputs[out_r] = False
                self._fds.add(out_r)
                to_close.append(out_w)
                err_r, err_w = os.pipe()
                self._outputs[err_r] = True
                self._fds.add(err_r)
                to_close.append(err_w)
                self._proc = subprocess.Popen(
                    argv,
                    executable=shell,
                    stdin=in_r,
                    stdout=out_w,
                    stderr=err_w,
                    cwd=cwd,
                    env=env,
                    start_new_session=True,
                )
        except BaseException:
            self._close_fds()
            raise
        finally:
            for fd in to_close:
                os.close(fd)
        self._pgid = self._proc.pid
        state.process_groups.add(self._pgid)
        for fd in {self._stdin_fd, *self._outputs}:
            os.set_blocking(fd, False)
        self._start_reading()
        self._watch_exit(self._proc.pid)
        if self._stdin_buf or self._stdin_eof:
            self._flush_stdin()

    def _watch_exit(self, pid: int) -> None:
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            threading.Thread(target=self._wait_thread, args=(pid,), daemon=True).start()
            return

        def ready() -> None:
            self._loop.remove_reader(pidfd)
            os.close(pidfd)
            try:
                _, status = os.waitpid(pid, 0)
            except ChildProcessError:
                status = 255 << 8
            self._process_exited(status)

        self._loop.add_reader(pidfd, ready)

    def _wait_thread(self, pid: int) -> None:
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            status = 255 << 8
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._process_exited, status)

    def _process_exited(self, status: int) -> None:
        self._status = status
        if self._proc is not None:
            self._proc.returncode = os.waitstatus_to_exitcode(status)
        if self._master is not None and self._master in self._outputs:
            # The pty: the reader goes on until EIO (no process has the terminal open any
            # more); background jobs holding it keep the session open only briefly.
            self._loop.call_later(PTY_LINGER, self._close_pty)
        self._maybe_finish()

    def _close_pty(self) -> None:
        master = self._master
        if master is not None and master in self._outputs:
            while not self._closed and self._read_output(master):
                pass
            self._stop_output(master)

    # -- requests while running -----------------------------------------------------------

    def signal_received(self, signal_name: str) -> None:
        if self._pgid is None or self._done:
            return
        name = signal_name.upper().removeprefix("SIG")
        sig = getattr(signal, f"SIG{name}", None)
        if isinstance(sig, signal.Signals):
            self._state.signal_group(self._pgid, sig)

    def terminal_size_changed(self, width: int, height: int, pixwidth: int, pixheight: int) -> None:
        if self._master is not None:
            with contextlib.suppress(OSError):
                set_winsize(self._master, (width, height, pixwidth, pixheight))

    def break_received(self, msec: int) -> bool:
        if self._master is not None:
            with contextlib.suppress(OSError):
                termios.tcsendbreak(self._master, 0)
            return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._sftp is not None:
            self._sftp.connection_lost(exc)
            return
        self._closed = True
        if not self._done and self._pgid is not None:
            self._state.terminate_group(self._pgid)
        # The exit watcher keeps running so that the command is reaped.
        self._close_fds()
