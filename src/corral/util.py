"""Helpers fabfiles import from `fabric.util` and `invoke.util`: `get_local_user`, `debug`,
`helpline`, `isatty`, `has_fileno`, `enable_logging`, `task_name_sort_key`, `cd` (a local
chdir), `ExceptionHandlingThread` and `ExceptionWrapper`."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import types
from collections.abc import Callable, Iterator
from typing import IO, Any, NamedTuple

from .config.defaults import local_user

__all__ = [
    "ExceptionHandlingThread",
    "ExceptionWrapper",
    "cd",
    "debug",
    "enable_logging",
    "get_local_user",
    "has_fileno",
    "helpline",
    "isatty",
    "task_name_sort_key",
]

log = logging.getLogger("corral")


def get_local_user() -> str:
    """Return the name of the user running this program."""
    return local_user()


def debug(message: str, *args: Any) -> None:
    """Log a debug message on corral's logger (`corral -d` shows it)."""
    log.debug(message, *args)


def enable_logging() -> None:
    """Show corral's debug log on stderr (as `corral -d` does)."""
    logging.basicConfig(format="%(name)s: %(message)s")
    log.setLevel(logging.DEBUG)


def helpline(obj: object) -> str | None:
    """Return the first line of an object's docstring, or None."""
    doc = (getattr(obj, "__doc__", None) or "").strip()
    return doc.splitlines()[0] if doc else None


def has_fileno(stream: IO[Any]) -> bool:
    """True when the stream has a real file descriptor."""
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):
        return False
    return True


def isatty(stream: IO[Any]) -> bool:
    """True when the stream is a terminal."""
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        return False


def task_name_sort_key(name: str) -> tuple[list[str], str]:
    """Sort key for dotted task names: shallower first, then by name (as Invoke lists)."""
    parts = name.split(".")
    return parts[:-1], parts[-1]


@contextlib.contextmanager
def cd(where: str | os.PathLike[str]) -> Iterator[None]:
    """Change this process's working directory for the block (Invoke's `util.cd`; for remote
    commands use `c.cd()`)."""
    previous = os.getcwd()
    os.chdir(where)
    try:
        yield
    finally:
        os.chdir(previous)


class ExceptionWrapper(NamedTuple):
    """What killed an ExceptionHandlingThread: its arguments, type, value and traceback."""

    kwargs: dict[str, Any]
    type: type[BaseException]
    value: BaseException
    traceback: types.TracebackType | None


class ExceptionHandlingThread(threading.Thread):
    """A thread that keeps the exception that ended it (Invoke's), for `exception()`."""

    def __init__(
        self,
        target: Callable[..., Any] | None = None,
        args: tuple[Any, ...] = (),
        kwargs: dict[str, Any] | None = None,
        **thread_options: Any,
    ) -> None:
        super().__init__(target=target, args=args, kwargs=kwargs, **thread_options)
        self.daemon = True
        self.kwargs = dict(kwargs or {})
        self.exc_info: tuple[type[BaseException], BaseException, Any] | None = None

    def run(self) -> None:
        """Run the target, keeping what it raised."""
        try:
            super().run()
        except BaseException:
            info = sys.exc_info()
            assert info[0] is not None and info[1] is not None
            self.exc_info = (info[0], info[1], info[2])
            log.debug("thread %s died: %r", self.name, info[1])

    def exception(self) -> ExceptionWrapper | None:
        """Return what ended the thread, or None if it ended normally."""
        if self.exc_info is None:
            return None
        return ExceptionWrapper(self.kwargs, *self.exc_info)

    @property
    def is_dead(self) -> bool:
        """True when the thread ended by an exception."""
        return not self.is_alive() and self.exc_info is not None
