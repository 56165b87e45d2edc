"""Feeding a command's stdin: the terminal when interactive, a caller's stream, or EOF."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import sys
import termios
import tty
from collections.abc import Callable
from typing import IO, Any

from .options import InStream

CHUNK = 64 * 1024


def _terminal_fd() -> int | None:
    """Return stdin's fd when it is an interactive terminal we can read, else None."""
    stream = sys.stdin
    try:
        if stream is None or stream.closed or not stream.isatty():
            return None
        return stream.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by pytest capture, detached, closed
        return None


def terminal_input() -> bool:
    """True when a command's default stdin would be this process's interactive terminal."""
    return _terminal_fd() is not None


class StdinFeeder:
    """Copy input to a process until it ends; `stop()` detaches without blocking."""

    def __init__(
        self,
        source: InStream,
        write: Callable[[bytes], None],
        write_eof: Callable[[], None],
        *,
        encoding: str,
        keep_open: bool,
        pty: bool,
        hold: bool = False,
        echo: Callable[[bytes], None] | None = None,
        quiet_terminal: bool = False,
    ) -> None:
        self._echo = echo  # echo_stdin=True: what a stream gives is shown with the output
        self._quiet = quiet_terminal  # echo_stdin=False: the terminal does not echo either
        self._write = write
        self._write_eof = write_eof
        self._encoding = encoding
        self._keep_open = keep_open
        self._pty = pty
        self._source = source
        self._fd: int | None = None
        self._saved_tty: list[Any] | None = None
        self._task: asyncio.Task[None] | None = None
        self._input_done = False
        self._held = hold  # sudo reads its password from stdin first: no input until release
        self._stopped = False

    def start(self) -> None:
        """Begin feeding: attach the terminal, start reading a stream, or send EOF.

        When holding (sudo), input starts only at `release`, once sudo has started the
        command: until then whatever arrives on stdin would be read as the password.
        """
        if not self._held:
            self._begin()

    def _begin(self) -> None:
        source = self._source
        if source is None:
            self._fd = _terminal_fd()
            if self._fd is None:
                self._eof()
                return
            if self._pty:  # keystrokes go through one by one, as with ssh -t
                with contextlib.suppress(termios.error):
                    self._saved_tty = termios.tcgetattr(self._fd)
                    tty.setcbreak(self._fd)
            elif self._quiet:  # typed input (a secret) is not shown
                with contextlib.suppress(termios.error):
                    self._saved_tty = termios.tcgetattr(self._fd)
                    quiet = termios.tcgetattr(self._fd)
                    quiet[3] &= ~termios.ECHO
                    termios.tcsetattr(self._fd, termios.TCSADRAIN, quiet)
            asyncio.get_running_loop().add_reader(self._fd, self._on_terminal)
        elif source is False:
            self._eof()
        else:
            self._task = asyncio.get_running_loop().create_task(self._copy(source))

    def _eof(self) -> None:
        self._input_done = True
        if not self._keep_open:
            self._write_eof()

    def release(self) -> None:
        """sudo has started the command: begin input if it was held, and send EOF once input
        ends (or now, if it already ended)."""
        self._keep_open = False
        if self._held:
            self._held = False
            if not self._stopped:
                self._begin()
            return
        if self._input_done:
            self._write_eof()

    def _on_terminal(self) -> None:
        assert self._fd is not None
        try:
            data = os.read(self._fd, CHUNK)
        except OSError:
            data = b""
        if data:
            self._write(data)
        else:
            self._detach_terminal()
            self._write_eof()

    async def _copy(self, source: IO[Any]) -> None:
        while True:
            try:
                chunk = await asyncio.to_thread(source.read, CHUNK)
            except (OSError, ValueError, io.UnsupportedOperation):
                chunk = b""
            if not chunk:
                break
            data = chunk.encode(self._encoding) if isinstance(chunk, str) else chunk
            self._write(data)
            if self._echo is not None:
                self._echo(data)
        self._eof()

    def _detach_terminal(self) -> None:
        if self._fd is None:
            return
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(self._fd)
        if self._saved_tty is not None:
            with contextlib.suppress(termios.error):
                termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved_tty)
            self._saved_tty = None
        self._fd = None

    def stop(self) -> None:
        """Stop feeding and restore the terminal."""
        self._stopped = True
        self._detach_terminal()
        if self._task is not None:
            self._task.cancel()
