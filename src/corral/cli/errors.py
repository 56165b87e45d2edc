"""How a failure ends the `corral` command: one line on stderr and an exit status.

A failed remote command exits with its own status (1 when several hosts' statuses differ);
every other error exits 1; usage errors (click's) exit 2.
"""

from __future__ import annotations

from ..errors import CorralError, Failure, GroupException, UnexpectedExit

USAGE_STATUS = 2
INTERRUPTED_STATUS = 130


def _status_of(exc: BaseException) -> int | None:
    if isinstance(exc, UnexpectedExit):
        code = exc.result.exited
        return code if 0 < code < 256 else 1
    return None


def exit_status(exc: BaseException) -> int:
    """Return the exit status for an error that ended the run."""
    if isinstance(exc, GroupException):
        statuses = {_status_of(error) for error in exc.result.failed.values()}
        if len(statuses) == 1 and None not in statuses:
            return statuses.pop() or 1
        return 1
    return _status_of(exc) or 1


def describe(exc: BaseException) -> str:
    """Return an error's message for the terminal: its first line, and for a failed command
    whose output was hidden, the tail of that output the message carries."""
    text = str(exc).strip() or type(exc).__name__
    if isinstance(exc, GroupException):  # the report above has the details
        return text.splitlines()[0]
    first, _, rest = text.partition("\n")
    if isinstance(exc, Failure) and rest:
        result = exc.result
        stream = "stdout" if result.pty else "stderr"
        if stream in result.hide:  # the user has not seen it: keep the tail
            return text
    if not isinstance(exc, CorralError):
        return f"{type(exc).__name__}: {first}"
    return first
