"""Finishing what must finish: stopping a command or removing a temp file after Ctrl-C.

A run interrupted by Ctrl-C is cancelled more than once (the portal cancels its call, a group
then cancels its hosts); cleanup that a second cancel cut short would leave a remote command
running or a temp file behind. `finish` sees it through, within a bound.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def finish(awaitable: Awaitable[T]) -> T:
    """Await `awaitable` to its end even if this task is cancelled meanwhile.

    The awaitable must bound its own time. A cancellation that arrived meanwhile is raised
    once it is done, so it is delayed, never lost.
    """
    work = asyncio.ensure_future(awaitable)
    cancelled = False
    while True:
        try:
            result = await asyncio.shield(work)
            break
        except asyncio.CancelledError:
            if work.cancelled():
                raise
            if work.done():  # it failed while we were being cancelled: report that
                result = work.result()
                break
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    return result
