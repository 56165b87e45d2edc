"""Running one command to completion over any `Process`: output, stdin, watchers, timeout.

The narrow interface between command logic and where the command runs: the SSH transport
and the local runner each provide a `Process`; `run_process` does the rest.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from ..config.secret import secret_registry
from ..errors import AuthFailure, CommandTimedOut, ConnectionLost, Failure, UnexpectedExit
from ..result import ExitStatus, Result
from .cancel import finish
from .command import secret_values
from .options import RunOptions
from .output import OutputHandler
from .stdin import StdinFeeder
from .sudo import SudoGuard, SudoRefused, refusal_reason

#: Seconds a timed-out or interrupted command gets after TERM, then after KILL.
TERM_GRACE = 2.0
KILL_GRACE = 1.0

#: Receives a command's output: ("stdout" or "stderr", bytes).
OutputCallback = Callable[[str, bytes], None]

__all__ = ["ExitStatus", "OutputCallback", "Process", "run_process"]


class Process(Protocol):
    """A started command; its output goes to the callback given to `start_output`."""

    def start_output(self, on_output: OutputCallback) -> None:
        """Deliver output to `on_output` from now on (what arrived before, first)."""

    def write(self, data: bytes) -> None:
        """Write bytes to the command's stdin."""

    def write_eof(self) -> None:
        """Close the command's stdin."""

    def send_signal(self, name: str) -> None:
        """Send a signal ("TERM", "KILL", "INT") to the command's process group."""

    def close(self) -> None:
        """Abandon the command: close its channel or pipes."""

    async def wait(self) -> ExitStatus:
        """Wait until the command exited and its output was delivered."""


def _consume(future: asyncio.Future[ExitStatus]) -> None:
    """Mark a finished wait as seen, so an error nobody awaits is not logged as lost."""
    if not future.cancelled():
        future.exception()


async def _terminate(process: Process, waiting: asyncio.Future[ExitStatus]) -> ExitStatus | None:
    """Stop a command: TERM, then KILL, then close; return its exit if it reported one."""
    for signal, grace in (("TERM", TERM_GRACE), ("KILL", KILL_GRACE)):
        with contextlib.suppress(Exception):
            process.send_signal(signal)
        await asyncio.wait({waiting}, timeout=grace)
        if waiting.done():
            break
    else:
        process.close()
        await asyncio.wait({waiting}, timeout=KILL_GRACE)
    if waiting.done() and not waiting.cancelled() and waiting.exception() is None:
        return waiting.result()
    return None


async def run_process(
    process: Process,
    options: RunOptions,
    *,
    command: str,
    display: str,
    host: str,
    connection: Any = None,
    guard: SudoGuard | None = None,
    on_interrupt: Callable[[Result], None] | None = None,
) -> Result:
    """Take a started command's output and stdin, wait for its exit, return its Result.

    When cancelled (Ctrl-C), the command is stopped and `on_interrupt` gets what it printed.
    Raises UnexpectedExit (non-zero exit, unless `warn`), CommandTimedOut (the command was
    terminated) or Failure (a watcher raised); ConnectionLost propagates with partial output.
    """
    if options.echo:
        print(options.echo_format.format(command=display), file=sys.stdout, flush=True)
    secrets = secret_values(options.env)
    if guard is not None and guard.password is not None:
        secrets.append(guard.password.reveal())
    output = OutputHandler(
        encoding=options.encoding,
        hide=options.hide,
        out_stream=options.out_stream,
        err_stream=options.err_stream,
        capture_limit=options.capture_limit,
        secrets=secrets,
    )
    with secret_registry.secrets(secrets):
        return await _run(process, options, output, display, host, connection, guard, on_interrupt)


async def _run(
    process: Process,
    options: RunOptions,
    output: OutputHandler,
    display: str,
    host: str,
    connection: Any,
    guard: SudoGuard | None,
    on_interrupt: Callable[[Result], None] | None,
) -> Result:
    watcher_error: list[BaseException] = []
    failed = asyncio.Event()
    feeders = [_feeder(watcher) for watcher in options.watchers]

    def on_output(stream: str, data: bytes) -> None:
        if guard is not None:
            try:
                data = guard.feed(stream, data)
            except SudoRefused as exc:
                watcher_error.append(exc)
                failed.set()
                return
            if not data:
                return
        text = output.feed(stream, data)
        if not feeders or watcher_error:
            return
        try:
            for feed in feeders:
                for reply in feed(text):
                    process.write(reply.encode(options.encoding))
        except Exception as exc:  # a FailingResponder's verdict, or a watcher's own bug
            watcher_error.append(exc)
            failed.set()

    started = time.monotonic()
    process.start_output(on_output)
    feeder = StdinFeeder(
        options.in_stream,
        process.write,
        process.write_eof,
        encoding=options.encoding,
        keep_open=bool(options.watchers) or guard is not None,
        pty=options.pty,
        hold=guard is not None,
        echo=output.echo_input if options.echo_stdin else None,
        quiet_terminal=options.echo_stdin is False,
    )
    if guard is not None:
        guard.attach(process.write, feeder.release)
    feeder.start()
    timed_out = False
    status: ExitStatus | None = None
    waiting = asyncio.ensure_future(process.wait())
    waiting.add_done_callback(_consume)
    try:
        watched = bool(options.watchers) or guard is not None
        status = await _wait(waiting, failed, options.timeout, watched)
        if status is None:
            timed_out = not failed.is_set()
            status = await _terminate(process, waiting)
    except asyncio.CancelledError:
        # a repeated cancel (a group cancelling its hosts after Ctrl-C cancelled them) must
        # not cut the stopping short and leave the command running
        try:
            stopped = await finish(_terminate(process, waiting))
        except asyncio.CancelledError:
            stopped = None
        if on_interrupt is not None:
            output.finish()
            on_interrupt(_result(output, options, display, host, connection, stopped, started))
        raise
    except ConnectionLost as exc:
        output.finish()
        raise ConnectionLost(
            exc.host,
            exc.reason,
            command=display,
            stdout=output.captures["stdout"].value().decode(options.encoding, "replace"),
            stderr=output.captures["stderr"].value().decode(options.encoding, "replace"),
        ) from exc
    finally:
        feeder.stop()
    if guard is not None and (held := guard.finish()):
        output.feed("stdout" if options.pty else "stderr", held)
    output.finish()
    result = _result(output, options, display, host, connection, status, started)
    if watcher_error and isinstance(watcher_error[0], SudoRefused):
        raise AuthFailure(result, str(watcher_error[0]))
    if guard is not None and not guard.started and not timed_out and result.failed:
        reason = refusal_reason(result.stdout if options.pty else result.stderr)
        raise AuthFailure(result, reason or "sudo did not start the command")
    if watcher_error:
        raise Failure(result, f"watcher stopped {display!r}: {watcher_error[0]}") from (
            watcher_error[0]
        )
    if timed_out:
        assert options.timeout is not None
        raise CommandTimedOut(result, options.timeout)
    if result.failed and not options.warn:
        raise UnexpectedExit(result)
    return result


def _feeder(watcher: Any) -> Callable[[str], Iterable[str]]:
    """Return how a watcher takes new output: corral's `feed`, or for another library's
    watcher (Invoke's, where it is installed) `submit` with all the output so far."""
    feed = getattr(watcher, "feed", None)
    if callable(feed):
        return feed  # type: ignore[no-any-return]
    seen: list[str] = []

    def submit(text: str) -> Iterable[str]:
        seen.append(text)
        return watcher.submit("".join(seen))  # type: ignore[no-any-return]

    return submit


def _result(
    output: OutputHandler,
    options: RunOptions,
    display: str,
    host: str,
    connection: Any,
    status: ExitStatus | None,
    started: float,
) -> Result:
    """Return what a command produced (status None: it never reported one)."""
    return Result(
        command=display,
        exited=status.code if status is not None else -1,
        host=host,
        stdout_bytes=output.captures["stdout"].value(),
        stderr_bytes=output.captures["stderr"].value(),
        encoding=options.encoding,
        connection=connection,
        hide=options.hide,
        pty=options.pty,
        env=dict(options.env),
        signal=status.signal if status is not None else None,
        duration=time.monotonic() - started,
        stdout_truncated=output.captures["stdout"].truncated,
        stderr_truncated=output.captures["stderr"].truncated,
    )


async def _wait(
    waiting: asyncio.Future[ExitStatus],
    failed: asyncio.Event,
    timeout: float | None,
    watched: bool = True,
) -> ExitStatus | None:
    """Wait for exit; None when the timeout passed or a watcher failed first."""
    if watched is False:  # no watcher or guard can fail: wait for the exit alone
        await asyncio.wait({waiting}, timeout=timeout)
        return waiting.result() if waiting.done() else None
    watcher: asyncio.Future[Any] = asyncio.ensure_future(failed.wait())
    try:
        await asyncio.wait({waiting, watcher}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watcher.cancel()
    if waiting.done():
        return waiting.result()
    return None
