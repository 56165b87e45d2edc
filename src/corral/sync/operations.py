"""The blocking twins of the operations (`corral.ops`): each one call onto the portal, with
the blocking Connection in place of the async one; handlers run in the caller's thread."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Concatenate, ParamSpec, TypeVar

from .. import operations as aio
from ..operations.handlers import Handler, handler, report_handler, take_pending
from ..operations.recap import Recap, recap_json, render_recap
from ..operations.result import OpResult
from ..remote.connection import Connection as AsyncConnection
from .connection import Connection
from .facade import call

P = ParamSpec("P")
T = TypeVar("T")


def _blocking(
    function: Callable[Concatenate[AsyncConnection, P], Awaitable[T]],
) -> Callable[Concatenate[Connection, P], T]:
    """Make the blocking twin of an operation: same name, docstring and parameters."""

    @functools.wraps(function)
    def twin(c: Connection, /, *args: P.args, **kwargs: P.kwargs) -> T:
        return call(function, c._async, *args, **kwargs)

    return twin


file = _blocking(aio.file)
template = _blocking(aio.template)
line = _blocking(aio.line)
block = _blocking(aio.block)
directory = _blocking(aio.directory)
symlink = _blocking(aio.symlink)
absent = _blocking(aio.absent)
copy_tree = _blocking(aio.copy_tree)
package = _blocking(aio.package)
service = _blocking(aio.service)
user = _blocking(aio.user)
group = _blocking(aio.group)
cron = _blocking(aio.cron)
sysctl = _blocking(aio.sysctl)
git = _blocking(aio.git)


def flush_handlers(c: Connection) -> list[Any]:
    """Run the handlers pending on `c`, once each, in the order they were first notified.

    Returns what each returned (an OpResult report for one notified in check mode only,
    which does not run). Blocking handlers get `c`; `async def` ones its corral.aio twin.
    """
    core = c._async
    done: list[Any] = []
    for pending, checked in take_pending(core):
        if checked:
            done.append(report_handler(core, pending, checked=True))
            continue
        if pending.is_async:
            done.append(call(pending.function, core))
        else:
            done.append(pending.function(c))
        report_handler(core, pending, checked=False)
    return done


@contextlib.contextmanager
def handlers(c: Connection) -> Iterator[None]:
    """Run the handlers notified on `c` when the block ends (not when it raises: they stay
    pending, as Ansible leaves them after a failed task)."""
    yield
    flush_handlers(c)


__all__ = [
    "Handler",
    "OpResult",
    "Recap",
    "absent",
    "block",
    "copy_tree",
    "cron",
    "directory",
    "file",
    "flush_handlers",
    "git",
    "group",
    "handler",
    "handlers",
    "line",
    "package",
    "recap_json",
    "render_recap",
    "service",
    "symlink",
    "sysctl",
    "template",
    "user",
]
