"""`PoolExecutor`: a group's hosts run in `workers` processes on this machine (each a `Shard`
on its own loop), the limits kept by the caller. It spreads the client's CPU work (key
exchange, ciphers, output) over cores that one event loop cannot use.

Caller and worker speak length-prefixed pickle frames over the worker's stdin and a private
copy of its stdout (its own stdout goes to stderr: a stray print cannot break a frame):
("run", id, HostJob) and ("cancel", id) one way; ("events", id, [event dicts]) and
("done", id, outcome) back. A worker that dies fails its hosts with ControllerLost.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import struct
import sys
import uuid
from collections.abc import Sequence
from typing import Any, BinaryIO

from ..errors import ConfigError, ExecutorError
from ..remote.executors import Emit, HostJob, HostSpec, Interrupted
from .base import ShardHandle, lost, pick, until_stopped
from .shard import Shard

_HEADER = struct.Struct("!I")
#: The module a worker process runs.
WORKER_MODULE = "corral.executors"


async def _read_frame(reader: asyncio.StreamReader) -> Any:
    """Return the next frame's object, or None at the end of the stream."""
    try:
        header = await reader.readexactly(_HEADER.size)
        (size,) = _HEADER.unpack(header)
        return pickle.loads(await reader.readexactly(size))
    except (asyncio.IncompleteReadError, ConnectionError):
        return None


def _frame(message: Any) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


class _Worker:
    """One worker process as the caller holds it: its pipes and its jobs' reply queues."""

    def __init__(self, shard: ShardHandle, process: asyncio.subprocess.Process) -> None:
        self.shard = shard
        self.process = process
        self.replies: dict[str, asyncio.Queue[tuple[str, Any]]] = {}
        self.reader = asyncio.ensure_future(self._read())

    def send(self, message: Any) -> None:
        stdin = self.process.stdin
        if stdin is None or stdin.is_closing():
            raise ConnectionError("the worker's pipe is closed")
        stdin.write(_frame(message))

    async def _read(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        while True:
            message = await _read_frame(stdout)
            if message is None:
                break
            kind, job_id, data = message
            queue = self.replies.get(job_id)
            if queue is not None:
                queue.put_nowait((kind, data))
        self.shard.alive = False
        status = await self.process.wait()
        for queue in self.replies.values():
            queue.put_nowait(("lost", f"exited with status {status}"))


class PoolExecutor:
    """Run a group's hosts in `workers` processes on this machine (`workers=N`)."""

    name = "pool"

    def __init__(self, workers: int = 2, *, placement: str | None = None) -> None:
        if not isinstance(workers, int) or workers < 1:
            raise ConfigError(f"executor workers={workers!r} must be a whole number >= 1")
        self.workers = workers
        #: The host var whose value places a host; a pool runs everything here: unused.
        self.placement = placement
        self._pool: list[_Worker] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def shards(self) -> list[ShardHandle]:
        """The workers, as the caller sees them."""
        return [w.shard for w in self._pool]

    async def start(self, specs: Sequence[HostSpec]) -> None:
        """Start the worker processes (once per event loop)."""
        loop = asyncio.get_running_loop()
        if self._loop is loop and any(w.shard.alive for w in self._pool):
            return
        await self.close()
        self._loop = loop
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        for number in range(self.workers):
            try:
                process = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    WORKER_MODULE,
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    env=env,
                    limit=2**26,
                    start_new_session=True,  # Ctrl-C reaches the caller, which stops the jobs
                )
            except OSError as exc:
                await self.close()
                raise ExecutorError(f"pool executor: cannot start a worker process: {exc}") from exc
            shard = ShardHandle(
                f"worker {number + 1} (pid {process.pid})", process.pid, pid=process.pid
            )
            self._pool.append(_Worker(shard, process))

    async def run(self, job: HostJob, emit: Emit) -> Any:
        """Run one host's share in the least busy worker; stream its events to `emit`."""
        shard = pick(self.shards, job.spec)
        worker = next((w for w in self._pool if w.shard is shard), None)
        if worker is None:
            return lost(job, None, "is gone: every worker process of the pool has exited")
        job_id = uuid.uuid4().hex
        replies: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        worker.replies[job_id] = replies
        worker.shard.jobs.add(job_id)
        try:
            try:
                worker.send(("run", job_id, job))
            except (ConnectionError, OSError):
                worker.shard.alive = False
                return lost(job, worker.shard, "had exited")
            try:
                return await self._replies(job, worker, replies, emit)
            except asyncio.CancelledError:
                with contextlib.suppress(ConnectionError, OSError):
                    worker.send(("cancel", job_id, None))
                final = asyncio.ensure_future(self._replies(job, worker, replies, emit))
                raise Interrupted(await until_stopped(final)) from None
        finally:
            worker.replies.pop(job_id, None)
            worker.shard.jobs.discard(job_id)

    async def _replies(
        self,
        job: HostJob,
        worker: _Worker,
        replies: asyncio.Queue[tuple[str, Any]],
        emit: Emit,
    ) -> Any:
        while True:
            kind, data = await replies.get()
            if kind == "events":
                for event in data:
                    emit(event)
            elif kind == "done":
                return data
            else:
                return lost(job, worker.shard, str(data))

    async def close(self) -> None:
        """Stop the worker processes."""
        pool, self._pool = self._pool, []
        for worker in pool:
            if worker.process.stdin is not None:
                worker.process.stdin.close()
        for worker in pool:
            try:
                await asyncio.wait_for(worker.process.wait(), 5)
            except (TimeoutError, asyncio.TimeoutError):
                with contextlib.suppress(ProcessLookupError):
                    worker.process.kill()
                await worker.process.wait()
            worker.reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker.reader


# ---------------------------------------------------------------------- the worker process


async def _serve(shard: Shard, out: BinaryIO) -> None:
    """Serve the caller: run the jobs it sends, send back their events and outcomes."""
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader(limit=2**26)
    await loop.connect_read_pipe(
        lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(0, "rb", buffering=0)
    )
    pending: dict[str, list[dict[str, Any]]] = {}

    def send(message: Any) -> None:
        out.write(_frame(message))
        out.flush()

    def flush(job_id: str) -> None:
        events = pending.pop(job_id, None)
        if events:
            send(("events", job_id, events))

    def queue(job_id: str, event: dict[str, Any]) -> None:
        waiting = pending.setdefault(job_id, [])
        waiting.append(event)
        if len(waiting) == 1:
            loop.call_soon(flush, job_id)  # one frame for a burst of lines

    def finished(job_id: str, outcome: Any) -> None:
        flush(job_id)
        send(("done", job_id, outcome))

    while True:
        message = await _read_frame(reader)
        if message is None:
            break
        kind, job_id, job = message
        if kind == "cancel":
            shard.cancel(job_id)
            continue

        def emit(event: dict[str, Any], job_id: str = job_id) -> None:
            loop.call_soon_threadsafe(queue, job_id, event)

        future = shard.submit(job_id, job, emit)

        def done(future: Any, job_id: str = job_id) -> None:
            try:
                outcome = future.result()
            except BaseException as exc:  # a bug here: the host still gets an outcome
                from ..remote.executors import to_wire

                outcome = to_wire(exc)
            loop.call_soon_threadsafe(finished, job_id, outcome)

        future.add_done_callback(done)


def main() -> None:
    """Run a worker process: frames on stdin and on a private copy of stdout."""
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what anything prints goes to stderr, never into the frames
    shard = Shard()
    try:
        asyncio.run(_serve(shard, out))
    finally:
        with contextlib.suppress(Exception):
            shard.close()
