"""`Executor`: run task calls, each once per host in host order, with that host's Connection.

Connections are made once per host and shared by every task of one execution, each with its
own copy of the config; without hosts a task runs locally with a Context. The unit of work is
`run_call(call, connection)`, a coroutine for one task on one host: `execute` runs the units
one after another; a fleet engine can run the same units concurrently.

Given an `EventBus` (or a journal), an execution is recorded as a run: `start_run` emits
RunStarted, every host's share HostStarted, its output OutputLine events (through its
connection's output route) and HostFinished, in serial and group mode alike (the group engine
emits them for the calls it runs), and `finish_run` the hosts never reached and RunFinished.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..config import Config
from ..errors import (
    INTERRUPTED_STATUS,
    CommandInterrupted,
    ConfigError,
    CorralError,
    GroupException,
)
from ..events import EventBus, EventSink, bus_for
from ..remote.connection import Connection as AsyncConnection
from ..remote.group import Group as AsyncGroup
from ..remote.group import in_run, prefixed_output
from ..remote.recorder import RunRecorder, run_secrets
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

    return Call(Task(run_command, name=command), called_as=f"{ADHOC}{command}")


#: How a remainder call (an ad-hoc command) is named: `-- uname -a`.
ADHOC = "-- "


def adhoc_command(call: Call) -> str | None:
    """Return the ad-hoc command a call runs (made by `remainder_call`), else None."""
    name = call.called_as or ""
    return name[len(ADHOC) :] if name.startswith(ADHOC) else None


def exit_status_of(exc: BaseException | None) -> int:
    """Return the exit status a run that ended with `exc` has (None: it succeeded)."""
    if exc is None:
        return 0
    if isinstance(exc, KeyboardInterrupt):
        return int(getattr(exc, "exit_code", INTERRUPTED_STATUS))
    if isinstance(exc, CorralError):
        return exc.exit_code
    return 1


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
        journal: EventSink | None = None,
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
        self._local: AsyncContext | None = None
        #: The (call, host) being run: for reporting where a failure happened.
        self.current: tuple[Call, str | None] | None = None
        #: Where runs are recorded (None: nothing is); a journal given is subscribed to it.
        self.events: EventBus | None = bus_for(events, journal)
        #: The run being recorded, between `start_run` and `finish_run`.
        self.recorder: RunRecorder | None = None
        self._plan: list[Call] = []
        self._calls_started = 0

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
            self._connections[host] = conn
        return conn

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
        group.recorder = self.recorder  # the group emits its hosts' events into our run
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
        `execute` calls until `close()`. With an event bus, the execution is one run.
        """
        results: Results = {}
        plan = self.plan(*items)
        self.start_run(plan)
        try:
            for call in plan:
                results.setdefault(call.name, {}).update(self.run_one(call))
        except BaseException as exc:
            self.finish_run(exit_status_of(exc))
            raise
        self.finish_run(0)
        return results

    # ------------------------------------------------------------------ recording

    def start_run(
        self,
        calls: Sequence[Call],
        *,
        argv: Sequence[str] = (),
        selection: str = "",
        settings: Mapping[str, Any] | None = None,
    ) -> RunRecorder | None:
        """Start recording a run of `calls` (RunStarted: argv masked, the tasks or ad-hoc
        command, the selection, every host); None when nothing is recorded (no bus)."""
        self._plan, self._calls_started = list(calls), 0
        if self.events is None:
            self.recorder = None
            return None
        hosts = [h for call in calls for h in self.hosts_for(call) if h is not None]
        commands = [c for c in map(adhoc_command, calls) if c is not None]
        recorder = RunRecorder(self.events, secrets=run_secrets(self.config))
        recorder.run_started(
            hosts=hosts,
            tasks=[call.name for call in calls if adhoc_command(call) is None],
            command=commands[0] if commands else None,
            argv=argv,
            selection=selection,
            config=dict(settings or {}),
        )
        self.recorder = recorder
        return recorder

    def finish_run(self, exit_status: int) -> None:
        """End the recorded run: the hosts of calls never started are skipped (not reached),
        then RunFinished with `exit_status`."""
        recorder = self.recorder
        if recorder is None:
            return
        for call in self._plan[self._calls_started :]:
            statuses = recorder.statuses  # a host already not ok keeps what it has
            hosts = [
                h for h in self.hosts_for(call) if h is not None and statuses.get(h, "ok") == "ok"
            ]
            if hosts:
                recorder.task = _task_name(call)
                recorder.not_reached(hosts, f"not reached: the run ended before {call.name}")
        recorder.run_finished(exit_status)
        self.recorder = None

    def plan(self, *items: str | Call | tuple[str, Mapping[str, Any]]) -> list[Call]:
        """Return the calls to run, in order, with their pre and post tasks (each once)."""
        return expand_calls(self.to_call(item) for item in items)

    def run_one(self, call: Call) -> dict[str, Any]:
        """Run one call (no pre/post) on its hosts; return host (or "local") -> value."""
        hosts = self.hosts_for(call)
        values: dict[str, Any] = {}
        self._calls_started += 1
        if self.recorder is not None:
            self.recorder.task = _task_name(call)
        if self.group_limits is not None and hosts != [None]:
            self.current = (call, None)
            values = self._run_group(call, [h for h in hosts if h is not None])
        else:
            for position, host in enumerate(hosts):
                self.current = (call, host)
                try:
                    value = self._run_host(call, host)
                except BaseException as exc:
                    self._not_reached(call, hosts[position + 1 :], host, exc)
                    raise
                if call.task.autoprint:
                    print(value, flush=True)
                values[host or "local"] = value
        self.current = None
        return values

    def _run_host(self, call: Call, host: str | None) -> Any:
        """Run a call on one host (None: locally), recording its share when a run is."""
        connection = self.connection(host) if host is not None else None
        recorder = self.recorder
        if recorder is None or connection is None or host is None:
            return self._run_blocking(call, connection)
        recorder.host_started(host)
        connection.interrupted_result = None  # what an interrupt of this call stopped, if one does
        try:
            with in_run(connection, recorder):
                value = self._run_blocking(call, connection)
        except KeyboardInterrupt as exc:
            recorder.host_finished(host, _interrupted(connection, exc))
            raise
        except BaseException as exc:
            recorder.host_finished(host, exc)
            raise
        recorder.host_finished(host, value)
        return value

    def _not_reached(
        self, call: Call, hosts: Sequence[str | None], stopped: str | None, exc: BaseException
    ) -> None:
        """Record the hosts a call did not reach because it stopped on `stopped`."""
        if self.recorder is None:
            return
        names = [h for h in hosts if h is not None]
        if not names:
            return
        where = f" on {stopped}" if stopped else ""
        why = "was interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        self.recorder.not_reached(names, f"not reached: {call.name}{where} {why} first")

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


def _task_name(call: Call) -> str | None:
    """Return how events name the task of a call (None for an ad-hoc command: the run's
    command says it)."""
    return call.name if adhoc_command(call) is None else None


def _interrupted(connection: AsyncConnection, exc: KeyboardInterrupt) -> CommandInterrupted:
    """Return how a host whose call Ctrl-C (or TERM, HUP) stopped is reported: what its
    command had printed, as the group engine reports its interrupted hosts."""
    partial = connection.interrupted_result
    if partial is not None:
        doing = f"while running {partial.command!r}; the command was stopped"
    elif not connection.is_connected:
        doing = "while connecting; nothing ran"
    else:
        doing = "between commands; nothing was running"
    return CommandInterrupted(connection.original_host, f"interrupted {doing}", result=partial)
