"""`Shard`: the worker side of an executor. It runs the host jobs a coordinator hands it (in a
pool process or a Ray actor), many at once, on corral's own loop (the portal's, so a sync
task's blocking calls work as they do in the caller), and reports each job's events as they
happen and its outcome as data.

A worker never prints a host's output: it goes back as OutputLine events (masked with the
run's secrets), and the caller shows it. The node's own settings (`CORRAL_NODE_CONFIG`: a YAML
file of config keys, e.g. `bind_address` or `connect_kwargs.key_filename`) are merged over
every host's config on that node: keys stay on the nodes.
"""

from __future__ import annotations

import asyncio
import io
import os
import pickle
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

import yaml

from ..errors import ConfigError
from ..events import Event, EventBus, OperationResult, OutputLine
from ..remote.connection import Connection
from ..remote.executors import Emit, HostJob, Operation, to_wire
from ..remote.group import STOP_WAIT, HostCall, host_share, in_run, interrupted_outcome
from ..remote.recorder import RunRecorder
from ..result import Result
from ..runner.output import OutputRoute
from ..sync.connection import Connection as SyncConnection
from ..sync.portal import portal
from ..tasks.collection import Collection
from ..tasks.executor import Executor
from ..tasks.loader import load_collection
from ..tasks.task import Call

#: The variable naming a node's own config file (YAML), merged over each host's config there.
NODE_CONFIG = "CORRAL_NODE_CONFIG"
#: Handshakes in flight at once on one worker.
HANDSHAKES = 64


def node_config() -> dict[str, Any]:
    """Return this node's own config (the file `CORRAL_NODE_CONFIG` names), or {}."""
    path = os.environ.get(NODE_CONFIG)
    if not path:
        return {}
    try:
        data = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{NODE_CONFIG}={path}: cannot read this node's config: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{NODE_CONFIG}={path}: expected a mapping of config keys")
    return data


class _Discard(io.TextIOBase):
    """A text stream that keeps nothing: where a worker's host output would be printed."""

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        return len(text)


#: Where a worker's host output would be printed: nowhere (it goes back as events).
_DISCARD: IO[str] = _Discard()  # type: ignore[assignment]


class Shard:
    """Run host jobs on this worker; `submit` starts one, `cancel` stops it (Ctrl-C)."""

    def __init__(self, overrides: Mapping[str, Any] | None = None) -> None:
        self.overrides = dict(overrides) if overrides is not None else node_config()
        self._jobs: dict[str, asyncio.Task[Any]] = {}
        self._connections: dict[bytes, Connection] = {}
        self._collections: dict[str, Collection] = {}
        self._handshakes: asyncio.Semaphore | None = None
        self._threads: ThreadPoolExecutor | None = None

    def submit(self, job_id: str, job: HostJob, emit: Emit) -> Future[Any]:
        """Start a job on corral's loop; the future gives its outcome in wire form. `emit` is
        called (from the loop's thread) with each event dict as it happens."""
        return asyncio.run_coroutine_threadsafe(self._start(job_id, job, emit), portal.loop)

    def cancel(self, job_id: str) -> None:
        """Stop a job (its commands are stopped; it ends as CommandInterrupted)."""

        def stop() -> None:
            task = self._jobs.get(job_id)
            if task is not None:
                task.cancel()

        portal.loop.call_soon_threadsafe(stop)

    def close(self) -> None:
        """Stop every job and close every connection this shard opened."""

        async def close() -> None:
            for task in list(self._jobs.values()):
                task.cancel()
            await asyncio.gather(*self._jobs.values(), return_exceptions=True)
            await asyncio.gather(
                *(c.close() for c in self._connections.values()), return_exceptions=True
            )
            self._connections.clear()

        portal.call(close)
        if self._threads is not None:
            self._threads.shutdown(wait=False)

    async def _start(self, job_id: str, job: HostJob, emit: Emit) -> Any:
        task = asyncio.ensure_future(self._run(job, emit))
        self._jobs[job_id] = task
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:  # the future was cancelled: stop the job too
            task.cancel()
            return await task
        finally:
            self._jobs.pop(job_id, None)

    def _connection(self, job: HostJob) -> Connection:
        key = pickle.dumps(job.spec)
        conn = self._connections.get(key)
        if conn is None:
            conn = self._connections[key] = job.spec.connection(self.overrides)
        return conn

    async def _run(self, job: HostJob, emit: Emit) -> Any:
        """One host's share, here: its output and operation results emitted, its outcome (a
        value or what it raised; CommandInterrupted when stopped) returned as wire data."""
        if self._handshakes is None:
            self._handshakes = asyncio.Semaphore(HANDSHAKES)
        try:
            conn = self._connection(job)
        except Exception as exc:
            return to_wire(exc)
        bus = EventBus()
        recorder = RunRecorder(
            bus, run_id=job.run_id or "unrecorded", secrets=[s.reveal() for s in job.secrets]
        )

        def forward(event: Event) -> None:
            if isinstance(event, OutputLine | OperationResult):
                emit(event.to_dict())

        bus.subscribe(forward)
        conn.interrupted_result = None
        conn.output_route = OutputRoute(stdout=_DISCARD, stderr=_DISCARD)
        try:
            op = self._operation(job.operation, job.spec.host)
            with in_run(conn, recorder):
                if job.operation.kind == "dry":  # connects nowhere
                    value: Any = await op(conn)
                else:
                    value = await host_share(
                        conn,
                        op,
                        self._handshakes,
                        retries=job.connect_retries,
                        timeout=job.host_timeout,
                    )
        except asyncio.CancelledError:
            conn.interrupt()  # a sync task's thread goes on: its commands stop, new ones fail
            await conn.wait_commands(STOP_WAIT)
            value = interrupted_outcome(conn)
        except Exception as exc:
            value = exc
        finally:
            recorder.flush(conn.original_host)
            conn.output_route = None
        return to_wire(value)

    def _operation(self, operation: Operation, host: str) -> HostCall:
        """Return the coroutine function that does `operation` on a connection."""
        kind, args, kwargs = operation.kind, operation.args, operation.kwargs
        if kind in ("run", "sudo", "put", "get", "facts"):

            async def method(conn: Connection) -> Any:
                return await getattr(conn, kind)(*args, **kwargs)

            return method
        if kind == "call":
            function: Callable[[Any], Any] = args[0]
            if not kwargs.get("blocking"):
                return function
            threads = self._thread_pool()

            async def blocking(conn: Connection) -> Any:
                twin = SyncConnection.twin(conn)
                return await asyncio.get_running_loop().run_in_executor(threads, function, twin)

            return blocking
        if kind == "dry":
            return _dry(str(args[0]) if args else "true")
        if kind == "task":
            return self._task(operation)
        raise ConfigError(f"{host}: operation {kind!r} is not known to this worker")

    def _thread_pool(self) -> ThreadPoolExecutor:
        """Return the threads blocking tasks and functions run in (made on first use)."""
        if self._threads is None:
            self._threads = ThreadPoolExecutor(max_workers=64, thread_name_prefix="corral-task")
        return self._threads

    def _task(self, operation: Operation) -> HostCall:
        """Return the coroutine function running a task of a corralfile (imported here once)."""
        if operation.source is None:
            raise ConfigError(f"task {operation.args[0]!r}: no corralfile to load it from")
        collection = self._collections.get(operation.source)
        if collection is None:
            collection = load_collection(Path(operation.source))
            self._collections[operation.source] = collection
        try:
            dotted, task = collection.resolve(str(operation.args[0]))
        except KeyError:  # a task defined elsewhere than the collection's root: its own name
            dotted, task = collection.resolve(str(operation.args[-1]))
        call = Call(
            task,
            tuple(operation.kwargs.get("args", ())),
            dict(operation.kwargs.get("kwargs", {})),
            called_as=dotted,
        )
        threads = self._thread_pool()

        async def run_task(conn: Connection) -> Any:
            executor = Executor(collection, conn.config)
            return await executor.run_call(call, conn, threads)

        return run_task


def _dry(command: str) -> HostCall:
    """Return a share that connects nowhere: one output line, a made-up Result (benchmarks of
    what the caller pays per host, without SSH)."""

    async def dry(conn: Connection) -> Result:
        await asyncio.sleep(0)
        route = conn.output_route
        if route is not None and route.listener is not None:
            route.listener("stdout", f"{conn.original_host}\n", False)
        return Result(command=command, exited=0, host=conn.original_host)

    return dry
