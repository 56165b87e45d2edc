"""TERM and HUP stop `corral` the way Ctrl-C does.

A cancelled CI job sends SIGTERM and a closed terminal SIGHUP; by default either would kill
the process at once, leaving the remote commands running and printing no report. While
`stop_on_signals()` is active they raise `SignalInterrupt` (a KeyboardInterrupt) in the main
thread instead, so the one path Ctrl-C takes stops the remote commands and prints the
partial report; the command then exits 128 + the signal's number (143, 129), as a shell
reports a process killed by it.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

from ..errors import INTERRUPTED_STATUS

#: The signals that stop a run like Ctrl-C (SIGINT is Python's KeyboardInterrupt already).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class SignalInterrupt(KeyboardInterrupt):
    """TERM or HUP arrived: stop as for Ctrl-C, then exit with `exit_code` (128 + number)."""

    def __init__(self, signum: int) -> None:
        self.name = signal.Signals(signum).name
        super().__init__(self.name)
        self.exit_code = 128 + signum


@contextlib.contextmanager
def stop_on_signals() -> Iterator[None]:
    """Turn TERM and HUP into SignalInterrupt while inside (main thread only; else no-op).

    The first one interrupts; more while the run stops (a CI runner may repeat TERM) are
    ignored, so the remote commands are still stopped and the report still printed.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False

    def interrupt(signum: int, frame: FrameType | None) -> None:
        nonlocal fired
        if not fired:
            fired = True
            raise SignalInterrupt(signum)

    previous = {signum: signal.signal(signum, interrupt) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def interrupt_status(exc: BaseException | None) -> int:
    """Return the exit status for a run stopped by `exc` (Ctrl-C: 130, TERM: 143, HUP: 129)."""
    return exc.exit_code if isinstance(exc, SignalInterrupt) else INTERRUPTED_STATUS


def interrupt_words(exc: BaseException | None) -> str:
    """Return what stopped the run, for its last line: "interrupted by SIGTERM"."""
    return f"interrupted by {exc.name}" if isinstance(exc, SignalInterrupt) else "interrupted"
