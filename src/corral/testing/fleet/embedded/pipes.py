"""The byte pumps of a command session: output from the command's pipes (or pty) to the
channel, with flow control, and input from the channel to the command's stdin, buffered; then
the exit status, once every output is drained. A mixin of `Session`, which sets the state."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess

import asyncssh
from asyncssh.stream import SSHServerStreamSession

from .state import ServerState

READ_CHUNK = 64 * 1024
STDIN_HIGH_WATER = 256 * 1024
STDIN_LOW_WATER = 64 * 1024


def signal_name(sig: int) -> str:
    """Return the SSH name of a signal (``TERM``), as OpenSSH reports an exit signal."""
    try:
        return signal.Signals(sig).name.removeprefix("SIG")
    except ValueError:
        return "SIG@openssh.com"


class CommandPipes:
    """Output and input pumps between a session's channel and its command."""

    _state: ServerState
    _chan: asyncssh.SSHServerChannel[bytes] | None
    _loop: asyncio.AbstractEventLoop
    _sftp: SSHServerStreamSession[bytes] | None
    _master: int | None
    _proc: subprocess.Popen[bytes] | None
    _pgid: int | None
    _stdin_fd: int | None
    _stdin_buf: bytearray
    _stdin_writer: bool
    _stdin_eof: bool
    _chan_reading_paused: bool
    _outputs: dict[int, bool]  # fd -> is stderr
    _fds: set[int]  # file descriptors this session owns
    _output_paused: bool
    _eof_sent: bool
    _status: int | None
    _done: bool
    _closed: bool

    # -- output: command -> channel ---------------------------------------------------------

    def _start_reading(self) -> None:
        for fd in self._outputs:
            self._loop.add_reader(fd, self._read_output, fd)

    def _stop_reading(self) -> None:
        for fd in self._outputs:
            self._loop.remove_reader(fd)

    def _read_output(self, fd: int) -> bool:
        """Forward one chunk from ``fd``; False when there is nothing more right now."""
        try:
            data = os.read(fd, READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:  # EIO from a pty master once the terminal is gone
            data = b""
        if not data:
            self._stop_output(fd)
            return False
        assert self._chan is not None
        try:
            if self._outputs.get(fd):
                self._chan.write_stderr(data)
            else:
                self._chan.write(data)
        except OSError:
            pass
        return True

    def _stop_output(self, fd: int) -> None:
        if self._outputs.pop(fd, None) is None:
            return
        self._loop.remove_reader(fd)
        if fd != self._master:
            self._close_fd(fd)
        if not self._outputs:
            self._send_eof()
            self._maybe_finish()

    def _send_eof(self) -> None:
        if not self._eof_sent and not self._closed and self._chan is not None:
            self._eof_sent = True
            with contextlib.suppress(OSError):
                self._chan.write_eof()

    def _maybe_finish(self) -> None:
        if self._done or self._status is None or self._outputs:
            return
        self._done = True
        status = self._status
        if not self._closed and self._chan is not None:
            self._send_eof()
            with contextlib.suppress(OSError):
                if os.WIFSIGNALED(status):
                    self._chan.exit_with_signal(
                        signal_name(os.WTERMSIG(status)), os.WCOREDUMP(status)
                    )
                else:
                    self._chan.exit(os.waitstatus_to_exitcode(status))
        self._close_fds()
        if self._pgid is not None:
            # Background jobs left behind (nohup ...) keep running, as with sshd; the
            # group stays tracked so that stopping the fleet still ends them.
            self._state.signal_group(self._pgid, 0)

    def pause_writing(self) -> None:
        if self._sftp is not None:
            self._sftp.pause_writing()
            return
        if not self._output_paused:
            self._output_paused = True
            self._stop_reading()

    def resume_writing(self) -> None:
        if self._sftp is not None:
            self._sftp.resume_writing()
            return
        if self._output_paused:
            self._output_paused = False
            if not self._closed:
                self._start_reading()

    # -- input: channel -> command ----------------------------------------------------------

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        if self._sftp is not None:
            self._sftp.data_received(data, datatype)
            return
        if self._done and self._stdin_fd is None:
            return
        self._stdin_buf += data
        if self._proc is not None:
            self._flush_stdin()

    def eof_received(self) -> bool:
        if self._sftp is not None:
            return self._sftp.eof_received()
        self._stdin_eof = True
        if self._proc is not None:
            self._flush_stdin()
        return True  # half-close: the command's output keeps flowing

    def _flush_stdin(self) -> None:
        fd = self._stdin_fd
        if fd is None:
            self._stdin_buf.clear()
            return
        while self._stdin_buf:
            try:
                written = os.write(fd, self._stdin_buf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # EPIPE: the command does not read its input any more
                self._stdin_buf.clear()
                self._close_stdin()
                break
            del self._stdin_buf[:written]
        if self._stdin_buf and not self._stdin_writer:
            self._loop.add_writer(fd, self._flush_stdin)
            self._stdin_writer = True
        elif not self._stdin_buf and self._stdin_writer:
            self._loop.remove_writer(fd)
            self._stdin_writer = False
        if self._chan is not None and not self._closed:
            if len(self._stdin_buf) > STDIN_HIGH_WATER and not self._chan_reading_paused:
                self._chan_reading_paused = True
                self._chan.pause_reading()
            elif len(self._stdin_buf) <= STDIN_LOW_WATER and self._chan_reading_paused:
                self._chan_reading_paused = False
                self._chan.resume_reading()
        if not self._stdin_buf and self._stdin_eof and self._master is None:
            self._close_stdin()  # EOF for the command (a pty ignores EOF, as with sshd)

    def _close_stdin(self) -> None:
        fd = self._stdin_fd
        if fd is None:
            return
        self._stdin_fd = None
        if self._stdin_writer:
            self._loop.remove_writer(fd)
            self._stdin_writer = False
        if fd != self._master:
            self._close_fd(fd)

    def _close_fd(self, fd: int) -> None:
        if fd in self._fds:
            self._fds.discard(fd)
            os.close(fd)

    def _close_fds(self) -> None:
        for fd in self._outputs:
            self._loop.remove_reader(fd)
        self._outputs.clear()
        self._close_stdin()
        for fd in list(self._fds):
            self._close_fd(fd)
        self._master = None
