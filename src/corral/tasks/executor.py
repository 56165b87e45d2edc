"""`Executor`: run task calls, each once per host in host order, with that host's Connection.

Connections are made once per host and shared by every task of one execution, each with its
own copy of the config; without hosts a task runs locally with a Context. The unit of work is
`run_call(call, connection)`, a coroutine for one task on one host: `execute` runs the units
one after another; a fleet engine can run the same units concurrently.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..config import Config
from ..errors import ConfigError, GroupException
from ..events import EventBus
from ..remote.connection import Connection as AsyncConnection
from ..remote.group import Group as AsyncGroup
from ..remote.group import prefixed_output
from ..result import GroupResult
from ..runner.context import Context as AsyncContext
from ..sync.connection import Connection
from ..sync.context import Context
from ..sync.portal import portal
from .collection import Collection
from .task import Call, Task

#: What `execute` returns: for each call (by name), each host's (or "local") return value.
Results = dict[str, dict[str, Any]]


def expand_calls(calls: Iterable[Call]) -> list[Call]:
    """Return the calls with their pre and post tasks around them, each call once."""
    ordered: list[Call] = []

    def add(call: Call, chain: tuple[int, ...]) -> None:
        if id(call.task) in chain:
            raise ValueError(f"task {call.name} is its own pre- or post-task")
        for pre in call.task.pre:
            add(pre, (*chain, id(call.task)))
        ordered.append(call)
        for post in call.task.post:
            add(post, (*chain, id(call.task)))

    for call in calls:
        add(call, ())
    unique: list[Call] = []
    for call in ordered:
        if call not in unique:
            unique.append(call)
    return unique


def remainder_call(command: str) -> Call:
    """Return a Call that runs an ad-hoc shell command (`corral -H a,b -- uname -a`)."""

    def run_command(c: Any) -> Any:
        return c.run(command)

    return Call(Task(run_command, name=command), called_as=f"-- {command}")


class Executor:
    """Run task calls of a collection on hosts (or locally), sharing one Connection per host."""

    def __init__(
        self,
        collection: Collection,
        config: Config | None = None,
        hosts: Sequence[str] = (),
        *,
        group: Mapping[str, Any] | None = None,
        connections: Mapping[str, AsyncConnection] | None = None,
        events: EventBus | None = None,
        run_id: str | None = None,
    ) -> None:
        self.collection = collection
        self.config = config if config is not None else Config()
        #: Hosts every call runs on (`-H`); when empty, a task's own `hosts`, else locally.
        self.hosts: list[str] = list(dict.fromkeys(hosts))
        #: Group limits (concurrency, batch_size, ...): run each call on its hosts through the
        #: group engine, concurrently; None runs host after host.
        self.group_limits: dict[str, Any] | None = dict(group) if group is not None else None
        #: The group of the latest call run through the engine (its last_result after Ctrl-C).
        self.group: AsyncGroup | None = None
        #: Called with (host, state) as hosts start and finish, for progress displays.
        self.on_progress: Callable[[str, str], None] | None = None
        #: Called with (call, GroupResult) after each call run through the group engine.
        self.on_group_result: Callable[[Call, GroupResult], None] | None = None
        #: Connections made beforehand, by host name (an inventory's, with host vars and
        #: settings); other hosts get a Connection made from their name.
        self._connections: dict[str, AsyncConnection] = dict(connections or {})
        #: The run's event stream, handed to every connection (operations report on it).
        self.events = events
        self.run_id = run_id
        for conn in self._connections.values():
            self._attach(conn)
        self._local: AsyncContext | None = None
        #: The (call, host) being run: for reporting where a failure happened.
        self.current: tuple[Call, str | None] | None = None

    # ------------------------------------------------------------------ calls

    def to_call(self, item: str | Call | tuple[str, Mapping[str, Any]]) -> Call:
        """Turn a task name, (name, kwargs) pair or Call into a Call."""
        if isinstance(item, Call):
            return item
        name, kwargs = (item, {}) if isinstance(item, str) else item
        dotted, found = self.collection.resolve(name)
        return Call(found, (), dict(kwargs), called_as=dotted)

    def hosts_for(self, call: Call) -> list[str | None]:
        """Return the hosts a call runs on, in order; [None] means locally.

        A task's own `hosts` that names no host (`[]`, `[""]`) is refused: only `hosts=None`
        (left out) runs a task locally, never an empty list by accident.
        """
        if self.hosts:
            return list(self.hosts)
        if call.task.hosts is None:
            return [None]
        if not call.task.hosts or not all(h.strip() for h in call.task.hosts):
            raise ConfigError(
                f"task {call.name}: hosts={list(call.task.hosts)!r} has no host or a blank one; "
                "give it hosts, run it with -H HOST, or leave hosts out to run it on this machine"
            )
        return list(dict.fromkeys(call.task.hosts))

    # ------------------------------------------------------------------ contexts

    def connection(self, host: str) -> AsyncConnection:
        """Return the Connection for a host (made on first use, with its own config copy)."""
        conn = self._connections.get(host)
        if conn is None:
            conn = AsyncConnection(host, config=self.config.clone())
            self._attach(conn)
            self._connections[host] = conn
        return conn

    def _attach(self, conn: AsyncConnection) -> None:
        """Give a connection the run's event stream and id (the contract of operations)."""
        if self.events is not None:
            conn.events = self.events
            conn.run_id = self.run_id

    def local_context(self) -> AsyncContext:
        """Return the Context for tasks run locally (one per execution)."""
        if self._local is None:
            self._local = AsyncContext(self.config.clone())
        return self._local

    def context_for(self, task: Task[..., Any], connection: AsyncConnection | None) -> Any:
        """Return what a task receives: aio objects for `async def`, sync ones otherwise."""
        target: AsyncConnection | AsyncContext = (
            connection if connection is not None else self.local_context()
        )
        if task.is_async:
            return target
        if isinstance(target, AsyncConnection):
            return Connection.twin(target)
        return Context.twin(target)

    # ------------------------------------------------------------------ running

    async def run_call(
        self,
        call: Call,
        connection: AsyncConnection | None,
        workers: ThreadPoolExecutor | None = None,
    ) -> Any:
        """Run one call on one host's connection (None: locally) and return its value.

        Runs on the portal's loop; a sync task runs in a worker thread (from `workers`).
        """
        context = self.context_for(call.task, connection)
        if call.task.is_async:
            return await call.task.body(context, *call.args, **call.kwargs)
        body = functools.partial(call.task.body, context, *call.args, **call.kwargs)
        return await asyncio.get_running_loop().run_in_executor(workers, body)

    def _run_group(self, call: Call, hosts: list[str]) -> dict[str, Any]:
        """Run one call on all its hosts through the group engine; return host -> value."""
        assert self.group_limits is not None
        group = AsyncGroup.from_connections(
            [self.connection(h) for h in hosts], **self.group_limits
        )
        group.on_progress = self.on_progress
        self.group = group
        workers = None
        if not call.task.is_async:  # each host in flight blocks a thread in the task's code
            size = max(1, min(group.policy.concurrency, len(hosts)))
            workers = ThreadPoolExecutor(max_workers=size, thread_name_prefix="corral-task")
        prefixed = len(hosts) > 1

        async def unit(conn: AsyncConnection) -> Any:
            with prefixed_output(conn) if prefixed else contextlib.nullcontext():
                try:
                    return await self.run_call(call, conn, workers)
                except asyncio.CancelledError:
                    # Ctrl-C: a sync task's thread goes on; stop its commands, refuse new ones.
                    conn.interrupt()
                    raise

        try:
            result = portal.call(group.apply, unit)
        except GroupException as exc:
            if self.on_group_result is not None:
                self.on_group_result(call, exc.result)
            raise
        finally:
            if workers is not None:
                workers.shutdown(wait=False)
        if self.on_group_result is not None:
            self.on_group_result(call, result)
        return {getattr(c, "original_host", str(c)): value for c, value in result.items()}

    def _run_blocking(self, call: Call, connection: AsyncConnection | None) -> Any:
        if call.task.is_async:
            return portal.call(self.run_call, call, connection)
        # A sync task runs in this thread: Ctrl-C reaches the command it is waiting on.
        context = self.context_for(call.task, connection)
        return call.task.body(context, *call.args, **call.kwargs)

    def execute(self, *items: str | Call | tuple[str, Mapping[str, Any]]) -> Results:
        """Run the calls (with pre/post tasks, each once), each on its hosts in order.

        Stops at the first failure and raises it; connections stay open for further
        `execute` calls until `close()`.
        """
        results: Results = {}
        for call in self.plan(*items):
            results.setdefault(call.name, {}).update(self.run_one(call))
        return results

    def plan(self, *items: str | Call | tuple[str, Mapping[str, Any]]) -> list[Call]:
        """Return the calls to run, in order, with their pre and post tasks (each once)."""
        return expand_calls(self.to_call(item) for item in items)

    def run_one(self, call: Call) -> dict[str, Any]:
        """Run one call (no pre/post) on its hosts; return host (or "local") -> value."""
        hosts = self.hosts_for(call)
        values: dict[str, Any] = {}
        if self.group_limits is not None and hosts != [None]:
            self.current = (call, None)
            values = self._run_group(call, [h for h in hosts if h is not None])
        else:
            for host in hosts:
                self.current = (call, host)
                connection = self.connection(host) if host is not None else None
                value = self._run_blocking(call, connection)
                if call.task.autoprint:
                    print(value, flush=True)
                values[host or "local"] = value
        self.current = None
        return values

    async def aclose(self) -> None:
        """Close every connection this executor opened."""
        connections, self._connections = list(self._connections.values()), {}
        with contextlib.suppress(Exception):
            await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)

    def close(self) -> None:
        """Close every connection this executor opened (blocking)."""
        if self._connections:
            portal.call(self.aclose)

    def __enter__(self) -> Executor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
