"""What the pool and Ray executors share on the caller's side: their workers ("shards"), each
with the jobs it runs, and the choice of a shard for a host (its placement, then the least
busy), and how a cancelled job is waited for."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ControllerLost
from ..remote.executors import HostJob, HostSpec, to_wire
from ..remote.group import STOP_WAIT

#: Seconds past STOP_WAIT a stopped job may take to say how it ended (the round trip).
REPLY_GRACE = 5.0


@dataclass(eq=False)
class ShardHandle:
    """One worker as the caller sees it: what it is, where it runs, the jobs it has now."""

    name: str
    handle: Any
    #: The placement it serves ("eu"), or None: any host.
    placement: str | None = None
    node: str = ""
    #: The worker's process id (on its node), when known.
    pid: int | None = None
    alive: bool = True
    jobs: set[str] = field(default_factory=set)


def pick(shards: Sequence[ShardHandle], spec: HostSpec) -> ShardHandle | None:
    """Return the least busy live shard for a host: one of its placement's when it has one
    (hosts with no placement go anywhere); None when none is left."""
    live = [s for s in shards if s.alive]
    if spec.placement is not None:
        live = [s for s in live if s.placement == spec.placement]
    if not live:
        return None
    return min(live, key=lambda s: len(s.jobs))


def lost(job: HostJob, shard: ShardHandle | None, why: str) -> Any:
    """Return the wire outcome of a host whose worker died (or is gone): ControllerLost."""
    where = f" ({shard.name}{' on node ' + shard.node if shard.node else ''})" if shard else ""
    return to_wire(
        ControllerLost(
            job.spec.host,
            f"controller lost: the worker running this host{where} {why}; the host's outcome "
            "is unknown: check it, then run it again with --rerun-failed",
        )
    )


async def until_stopped(final: asyncio.Future[Any], timeout: float | None = None) -> Any:
    """After a job was told to stop: wait for `final` (its outcome), whatever further cancels
    come, at most STOP_WAIT plus a grace; return the outcome, or None when it never came."""
    deadline = time.monotonic() + (STOP_WAIT + REPLY_GRACE if timeout is None else timeout)
    while not final.done():
        left = deadline - time.monotonic()
        if left <= 0:
            final.cancel()
            return None
        try:
            await asyncio.wait_for(asyncio.shield(final), left)
        except asyncio.CancelledError:  # the engine cancels again while stopping: go on
            continue
        except (TimeoutError, asyncio.TimeoutError):
            final.cancel()
            return None
        except Exception:
            return None
    if final.cancelled() or final.exception() is not None:
        return None
    return final.result()
