"""`RayExecutor`: a group's hosts run in Ray actors (`corral[ray]`), each actor a `Shard`
running many hosts at once on corral's loop in its worker process. Ray places and runs the
actors; corral writes no scheduler. The caller keeps every limit (concurrency, batches,
max_failures, fail_fast, Ctrl-C) and hands hosts to actors as slots free.

Placement: a host whose placement var (config `executor.placement`, default "region") is set,
e.g. `region=eu`, runs in an actor that needs the custom resource `region_eu` (0.001 of it),
so on a node started with `--resources '{"region_eu": 1}'`, near its hosts; hosts without the
var run in any actor (one per node, SPREAD, unless `executor.shards` says how many).

Each job streams back: the actor method is an async generator yielding batches of event
dicts as they happen, then ("done", outcome). An actor or node that dies fails the hosts it
was running with ControllerLost; a cluster that cannot be reached is an ExecutorError before
anything starts. Ray is imported here only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import ray
import ray.exceptions

from ..errors import ExecutorError
from ..remote.executors import Emit, HostJob, HostSpec, Interrupted
from .base import ShardHandle, lost, pick, until_stopped
from .shard import Shard

#: Seconds an actor may take to start before the cluster is said to be unable to run it.
ACTOR_START_TIMEOUT = 120.0
#: The cluster this process connected to (Ray connects a process to one cluster).
_connected_to: str | None = None
#: How much of a placement resource one actor takes (many actors fit on a node with 1 of it).
RESOURCE_SHARE = 0.001


class ShardActor:
    """A Ray actor around a Shard: `run` streams one host job's events, then its outcome."""

    def __init__(self) -> None:
        self.shard = Shard()

    async def ready(self) -> tuple[str, str, int]:
        """Return where this actor runs: (Ray node id, machine name, pid)."""
        return ray.get_runtime_context().get_node_id(), socket.gethostname(), os.getpid()

    async def run(self, job_id: str, job: HostJob) -> AsyncIterator[tuple[str, Any]]:
        """Run a job; yield ("events", [dicts]) as its events happen, then ("done", outcome)."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def emit(event: dict[str, Any]) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, ("event", event))

        future = self.shard.submit(job_id, job, emit)
        future.add_done_callback(
            lambda _: loop.call_soon_threadsafe(queue.put_nowait, ("done", None))
        )
        while True:
            kind, data = await queue.get()
            events = [data] if kind == "event" else []
            finished = kind == "done"
            while not queue.empty():  # a burst of lines: one item
                kind, data = queue.get_nowait()
                if kind == "event":
                    events.append(data)
                else:
                    finished = True
            if events:
                yield ("events", events)
            if finished:
                yield ("done", future.result())
                return

    async def cancel(self, job_id: str) -> None:
        """Stop a job (Ctrl-C): its commands are stopped, it ends as CommandInterrupted."""
        self.shard.cancel(job_id)


class RayExecutor:
    """Run a group's hosts on a Ray cluster (`address`: "auto", "host:port", "ray://...")."""

    name = "ray"

    def __init__(
        self,
        address: str = "auto",
        *,
        placement: str | None = "region",
        shards: int | None = None,
        init_options: dict[str, Any] | None = None,
    ) -> None:
        self.address = address
        #: The host var whose value names a host's placement resource (`region` -> region_eu).
        self.placement = placement
        #: Actors for hosts without a placement (None: one per live node).
        self.shard_count = shards
        self.init_options = dict(init_options or {})
        self.shards: list[ShardHandle] = []
        self._connected = False

    # ------------------------------------------------------------------ the cluster

    def connect(self) -> None:
        """Connect this process to the cluster; raise ExecutorError when it cannot be reached."""
        global _connected_to
        if self._connected and ray.is_initialized():
            return
        if ray.is_initialized() and _connected_to not in (None, self.address):
            raise ExecutorError(
                f"ray executor: this process is connected to the Ray cluster at "
                f"{_connected_to!r}, not {self.address!r} (Ray allows one cluster per process)"
            )
        if not ray.is_initialized():
            _check_reachable(self.address)
            options: dict[str, Any] = {
                "address": self.address,
                "log_to_driver": False,  # workers' logs stay in the cluster's files
                "logging_level": logging.WARNING,
                "configure_logging": False,
                "include_dashboard": False,
                "namespace": "corral",
            }
            options.update(self.init_options)
            try:
                ray.init(**options)
            except (ConnectionError, RuntimeError, ValueError, TimeoutError) as exc:
                raise ExecutorError(
                    f"ray executor: cannot reach the Ray cluster at {self.address!r}: "
                    f"{str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r}; "
                    "start it (ray start --head) or give its address (--ray-address)"
                ) from exc
            _connected_to = self.address
        self._connected = True

    def resource(self, placement: str) -> str:
        """Return the Ray resource a placement value needs (`eu` -> `region_eu`)."""
        return f"{self.placement}_{placement}" if self.placement else placement

    async def start(self, specs: Sequence[HostSpec]) -> None:
        """Connect, check that the cluster offers every placement the hosts need, and start
        the actors not yet running; raise ExecutorError before any host starts otherwise."""
        self.connect()
        self.shards = [s for s in self.shards if s.alive]
        needed = sorted({s.placement for s in specs if s.placement is not None})
        offered: dict[str, float] = ray.cluster_resources()  # type: ignore[no-untyped-call]
        missing = [p for p in needed if offered.get(self.resource(p), 0) <= 0]
        if missing:
            hosts = [s.host for s in specs if s.placement in missing]
            raise ExecutorError(
                f"ray executor: no node of the cluster offers "
                f"{', '.join(self.resource(p) for p in missing)}, which hosts "
                f"{', '.join(hosts[:5])}{' ...' if len(hosts) > 5 else ''} are placed on; "
                "start a node with --resources '{\"" + self.resource(missing[0]) + "\": 1}' "
                "or remove their placement var"
            )
        made: list[ShardHandle] = []
        actor = ray.remote(ShardActor)
        for value in needed:
            if not any(s.placement == value for s in self.shards):
                handle = actor.options(
                    num_cpus=0,
                    resources={self.resource(value): RESOURCE_SHARE},
                    max_concurrency=100_000,
                    max_restarts=0,
                ).remote()
                made.append(ShardHandle(f"actor for {self.resource(value)}", handle, value))
        if any(s.placement is None for s in specs) and not self.shards and not made:
            nodes: list[dict[str, Any]] = ray.nodes()  # type: ignore[no-untyped-call]
            count = self.shard_count or max(1, len([n for n in nodes if n.get("Alive")]))
            for number in range(count):
                handle = actor.options(
                    num_cpus=0,
                    scheduling_strategy="SPREAD",
                    max_concurrency=100_000,
                    max_restarts=0,
                ).remote()
                made.append(ShardHandle(f"actor {number + 1}", handle))
        if not made:
            return
        try:
            where = await asyncio.wait_for(
                asyncio.gather(*(s.handle.ready.remote() for s in made)), ACTOR_START_TIMEOUT
            )
        except (TimeoutError, asyncio.TimeoutError, ray.exceptions.RayError) as exc:
            for shard in made:
                with contextlib.suppress(Exception):
                    ray.kill(shard.handle)
            raise ExecutorError(
                f"ray executor: the cluster at {self.address!r} did not start corral's actors "
                f"within {ACTOR_START_TIMEOUT:g} s ({type(exc).__name__}); is corral installed "
                "on its nodes, and do they have memory free?"
            ) from exc
        for shard, (node, machine, pid) in zip(made, where, strict=True):
            shard.node, shard.pid = f"{node[:12]} ({machine}, pid {pid})", pid
        self.shards += made

    # ------------------------------------------------------------------ hosts

    async def run(self, job: HostJob, emit: Emit) -> Any:
        """Run one host's share in an actor of its placement (the least busy); stream its
        events to `emit` as they come."""
        shard = pick(self.shards, job.spec)
        if shard is None:
            return lost(job, None, "is gone: every Ray actor that could run it has died")
        job_id = uuid.uuid4().hex
        shard.jobs.add(job_id)
        stream = shard.handle.run.remote(job_id, job)
        try:
            return await self._follow(job, shard, stream, emit)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                shard.handle.cancel.remote(job_id)
            final = asyncio.ensure_future(self._follow(job, shard, stream, emit))
            raise Interrupted(await until_stopped(final)) from None
        finally:
            shard.jobs.discard(job_id)

    async def _follow(self, job: HostJob, shard: ShardHandle, stream: Any, emit: Emit) -> Any:
        try:
            async for ref in stream:
                kind, data = await ref
                if kind == "events":
                    for event in data:
                        emit(event)
                else:
                    return data
        except ray.exceptions.RayError as exc:
            if isinstance(exc, ray.exceptions.RayTaskError):  # a bug in the actor's code
                raise
            shard.alive = False
            return lost(job, shard, f"died ({type(exc).__name__})")
        return lost(job, shard, "ended without saying how the host ended")

    async def close(self) -> None:
        """Stop the actors this executor started (the cluster stays up)."""
        shards, self.shards = self.shards, []
        for shard in shards:
            with contextlib.suppress(Exception):
                ray.kill(shard.handle)

    def shutdown(self) -> None:
        """Stop the actors and disconnect this process from the cluster."""
        for shard in self.shards:
            with contextlib.suppress(Exception):
                ray.kill(shard.handle)
        self.shards = []
        global _connected_to
        if ray.is_initialized():
            ray.shutdown()
        self._connected, _connected_to = False, None


def _check_reachable(address: str) -> None:
    """Raise ExecutorError at once when a host:port address does not answer (ray.init would
    wait a long time for it)."""
    if address in ("auto", "local") or (
        address.startswith("ray://") is False and ":" not in address
    ):
        return
    target = address.removeprefix("ray://")
    host, _, port = target.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=5):
            pass
    except (OSError, ValueError) as exc:
        raise ExecutorError(
            f"ray executor: cannot reach the Ray cluster at {address!r} ({exc}); start it "
            "(ray start --head) or give its address (--ray-address HOST:PORT)"
        ) from exc
