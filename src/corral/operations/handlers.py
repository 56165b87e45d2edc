"""Handlers: a follow-up (a restart, a reload) that runs once per host, at the end of a block,
only if an operation that notifies it changed something (even when several did).

    @ops.handler
    async def restart_app(c):
        await ops.service(c, "app", state="restarted", sudo=True)

    async with ops.handlers(c):          # pending handlers run when the block ends
        await ops.template(c, "app.conf.j2", "/etc/app.conf", notify=restart_app)
        await ops.file(c, "/etc/app/extra.conf", content=..., notify=restart_app)

A handler notified only in check mode does not run: it is reported as "would run".
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, overload

from ..events import OperationResult
from .result import OpResult

if TYPE_CHECKING:
    from ..remote.connection import Connection


class Handler:
    """A follow-up run once per host, only after an operation that notifies it changed."""

    def __init__(self, function: Callable[[Any], Any], name: str | None = None) -> None:
        self.function = function
        self.name: str = name or str(getattr(function, "__name__", "handler"))
        #: True for an `async def` handler (for corral.aio); False for a blocking one.
        self.is_async = inspect.iscoroutinefunction(function)

    def notify(self, conn: Connection, *, checked: bool = False) -> None:
        """Mark this handler pending on `conn` (once, however often it is notified)."""
        pending = conn.pending_handlers
        for index, (handler, only_checked) in enumerate(pending):
            if handler is self:
                if only_checked and not checked:  # a real change: it must really run
                    updated = (*pending[:index], (self, False), *pending[index + 1 :])
                    conn.pending_handlers = updated
                return
        conn.pending_handlers = (*pending, (self, checked))

    def is_pending(self, conn: Connection) -> bool:
        """True when this handler was notified on `conn` and has not run yet."""
        return any(handler is self for handler, _ in conn.pending_handlers)

    def __repr__(self) -> str:
        return f"<Handler {self.name}>"


@overload
def handler(function: Callable[[Any], Any], /) -> Handler: ...
@overload
def handler(*, name: str | None = None) -> Callable[[Callable[[Any], Any]], Handler]: ...
def handler(
    function: Callable[[Any], Any] | None = None, /, *, name: str | None = None
) -> Handler | Callable[[Callable[[Any], Any]], Handler]:
    """Make a function a Handler (usable as `@handler` or `@handler(name="...")`)."""
    if function is not None:
        return Handler(function, name)
    return lambda wrapped: Handler(wrapped, name)


def take_pending(conn: Connection) -> tuple[tuple[Handler, bool], ...]:
    """Return the pending handlers of `conn` and clear them."""
    pending = conn.pending_handlers
    conn.pending_handlers = ()
    return pending


def report_handler(conn: Connection, handler: Handler, *, checked: bool) -> OpResult:
    """Report that a handler ran (or, notified in check mode only, would run)."""
    result = OpResult(
        host=conn.original_host,
        operation="handler",
        target=handler.name,
        changed=True,
        message="would run" if checked else "ran",
        checked=checked,
    )
    if conn.events is not None:
        conn.events.emit(
            OperationResult(
                run_id=conn.run_id or "",
                time=time.time(),
                host=result.host,
                operation=f"handler {handler.name}",
                changed=True,
                message=result.message,
            )
        )
    return result


async def flush_handlers(conn: Connection) -> list[Any]:
    """Run the handlers pending on `conn`, once each, in the order they were first notified.

    Returns what each returned (an OpResult report for one notified in check mode only,
    which does not run). Handlers for corral.aio must be `async def`.
    """
    done: list[Any] = []
    for pending, checked in take_pending(conn):
        if checked:
            done.append(report_handler(conn, pending, checked=True))
            continue
        if not pending.is_async:
            raise TypeError(
                f"handler {pending.name} is a blocking function; corral.aio runs `async def` "
                "handlers (or flush with corral.ops.flush_handlers)"
            )
        value: Awaitable[Any] = pending.function(conn)
        done.append(await value)
        report_handler(conn, pending, checked=False)
    return done


@asynccontextmanager
async def handlers(conn: Connection) -> AsyncIterator[None]:
    """Run the handlers notified on `conn` when the block ends (not when it raises: they
    stay pending, as Ansible leaves them after a failed task)."""
    yield
    await flush_handlers(conn)
