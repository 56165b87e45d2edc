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
import dataclasses
import functools
import inspect
import os
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..config import Config, DataProxy
from ..errors import (
    INTERRUPTED_STATUS,
    CommandInterrupted,
    ConfigError,
    CorralError,
)
from ..events import EventBus, EventSink, bus_for
from ..remote.connection import Connection as AsyncConnection
from ..remote.executors import GroupExecutor, Operation
from ..remote.group import Group as AsyncGroup
from ..remote.group import in_run, prefixed_output
from ..remote.recorder import RunRecorder, run_secrets
from ..runner.context import Context as AsyncContext
from ..sync.connection import Connection
from ..sync.context import Context
from ..sync.portal import portal
from ..transport.hoststring import parse_host_string
from .collection import Collection
from .task import Call, HostEntry, Task

#: What `execute` returns: for each call (by name), each host's (or "local") return value.
Results = dict[str, dict[str, Any]]
#: A host as normalize_hosts gives it: Connection keyword arguments ({"host": "web1", ...}).
HostKwargs = dict[str, Any]
#: The keys a host dict may have: Connection's arguments, and `config` (merged into the
#: host's copy of the config).
HOST_KEYS = frozenset(
    {
        "host",
        "user",
        "port",
        "gateway",
        "forward_agent",
        "connect_timeout",
        "connect_kwargs",
        "inline_ssh_env",
        "config",
    }
)


def _expand(
    calls: Iterable[Call | Task[..., Any]], apply_hosts: bool, chain: tuple[int, ...]
) -> list[Call]:
    ordered: list[Call] = []
    for item in calls:
        call = item if isinstance(item, Call) else Call(item)
        if id(call.task) in chain:
            raise ValueError(f"task {call.name} is its own pre- or post-task")
        inner = (*chain, id(call.task))
        ordered += _expand(call.task.pre, False, inner)
        ordered.append(call if apply_hosts else dataclasses.replace(call, apply_hosts=False))
        ordered += _expand(call.task.post, False, inner)
    return ordered


def _dedupe(calls: Iterable[Call], place: Callable[[Call], Hashable]) -> list[Call]:
    """Keep every call named on the command line; drop a pre- or post-task call that runs a
    task already run with the same arguments in the same place."""
    done: set[tuple[Hashable, ...]] = set()
    kept: list[Call] = []
    for call in calls:
        key = (id(call.task), call.args, repr(sorted(call.kwargs.items())), place(call))
        if call.apply_hosts or key not in done:
            kept.append(call)
        done.add(key)
    return kept


def expand_calls(calls: Iterable[Call]) -> list[Call]:
    """Return the calls with their pre and post tasks around them (each pre/post once)."""
    return _dedupe(_expand(calls, True, ()), lambda call: call.apply_hosts or call.task.hosts)


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


def _names_a_host(entry: HostEntry) -> bool:
    host = entry.get("host") if isinstance(entry, Mapping) else entry
    return isinstance(host, str) and bool(host.strip())


def _host_key(entry: Mapping[str, Any]) -> str:
    return repr(sorted((str(key), repr(value)) for key, value in entry.items()))


class Executor:
    """Run task calls of a collection on hosts (or locally), sharing one Connection per host.

    Extension points, with Fabric's and Invoke's names, for programs built on corral:
    `normalize_hosts` (where hosts come from), `expand_calls` (pre and post tasks) and
    `dedupe` (which calls run once). `core` is the command line's parse (Invoke's
    ParseResult: `core[0].args.hosts.value`, `core.remainder`) when the CLI made it.
    """

    def __init__(
        self,
        collection: Collection,
        config: Config | None = None,
        hosts: Sequence[HostEntry] = (),
        *,
        group: Mapping[str, Any] | None = None,
        connections: Mapping[str, AsyncConnection] | None = None,
        core: Any = None,
        events: EventBus | None = None,
        journal: EventSink | None = None,
        group_executor: GroupExecutor | None = None,
        source: str | os.PathLike[str] | None = None,
    ) -> None:
        self.collection = collection
        #: Where the group engine runs hosts' shares (a process pool, Ray: corral.executors);
        #: None runs them in this process. Tasks travel by name, with `source`.
        self.group_executor = group_executor
        #: The corralfile the collection was loaded from: workers import it to run tasks
        #: (None: the file that defines each task's function).
        self.source = os.fspath(source) if source is not None else None
        #: The session's config: local tasks get it as it is (what they set on it reaches
        #: every later task, as in Invoke); each host gets a copy when its Connection is made.
        self.config = config if config is not None else Config()
        #: Hosts every call runs on (`-H`); when empty, a task's own `hosts`, else locally.
        self.hosts: list[HostEntry] = list(hosts)
        #: The command line's parse, for Fabric-style subclasses (None outside the CLI).
        self.core = core
        #: Group limits (concurrency, batch_size, ...): run each call on its hosts through the
        #: group engine, concurrently; None runs host after host.
        self.group_limits: dict[str, Any] | None = dict(group) if group is not None else None
        #: The group of the latest call run through the engine (its last_result after Ctrl-C).
        self.group: AsyncGroup | None = None
        #: Connections made beforehand, by host name (an inventory's, with host vars and
        #: settings); other hosts get a Connection made from their name.
        self._connections: dict[str, AsyncConnection] = {
            _host_key({"host": name}): conn for name, conn in (connections or {}).items()
        }
        self._local: AsyncContext | None = None
        #: Where runs are recorded (None: nothing is); a journal given is subscribed to it.
        self.events: EventBus | None = bus_for(events, journal)
        #: The run being recorded, between `start_run` and `finish_run`.
        self.recorder: RunRecorder | None = None
        self._plan: list[Call] = []
        self._calls_started = 0
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

    def expand_calls(
        self, calls: Sequence[Call | Task[..., Any]], apply_hosts: bool = True
    ) -> list[Call]:
        """Return the calls with each task's pre-tasks before it and post-tasks after it.

        Pre- and post-tasks run once, not once per host: -H does not apply to them (they run
        on their own hosts, or locally), as in Fabric.
        """
        return _expand(calls, apply_hosts, ())

    def dedupe(self, calls: Sequence[Call]) -> list[Call]:
        """Return the calls without repeated pre- and post-tasks: one that runs a task already
        run with the same arguments in the same place is dropped. Tasks named on the command
        line run as often as named."""
        return _dedupe(calls, lambda call: repr(self.hosts_for(call)))

    def plan(self, *items: str | Call | tuple[str, Mapping[str, Any]]) -> list[Call]:
        """Return the calls to run, in order: each with its pre and post tasks, deduplicated
        unless config `tasks.dedupe` is false (`--no-dedupe`)."""
        expanded = self.expand_calls([self.to_call(item) for item in items])
        return self.dedupe(expanded) if self.config.get("tasks.dedupe", True) else expanded

    def normalize_hosts(self, hosts: Sequence[HostEntry] | None) -> list[HostKwargs]:
        """Turn host strings and dicts into Connection keyword dicts ({"host": ...}).

        Fabric's extension point: override it to look hosts up elsewhere (an inventory, a
        role name given with -H); a dict may also carry `config`, merged into that host's
        config.
        """
        return [
            dict(value) if isinstance(value, Mapping) else {"host": value} for value in hosts or []
        ]

    def hosts_for(self, call: Call) -> list[HostKwargs | None]:
        """Return the hosts a call runs on, in order (each once); [None] means locally.

        -H applies to tasks named on the command line, not to their pre- and post-tasks. A
        task's own `hosts` that names no host (`[]`, `[""]`) is refused: only `hosts=None`
        (left out) runs a task locally, never an empty list by accident.
        """
        if call.apply_hosts and self.hosts:
            given: Sequence[HostEntry] = self.hosts
        elif call.task.hosts is None:
            return [None]
        else:
            given = call.task.hosts
            if not given or not all(_names_a_host(entry) for entry in given):
                raise ConfigError(
                    f"task {call.name}: hosts={list(given)!r} has no host or a blank one; "
                    "give it hosts, run it with -H HOST, or leave hosts out to run it on this "
                    "machine"
                )
        unique: dict[str, HostKwargs] = {}
        for entry in self.normalize_hosts(given):
            self._check_entry(call, entry)
            unique.setdefault(_host_key(entry), entry)
        return list(unique.values())

    def _check_entry(self, call: Call, entry: Mapping[str, Any]) -> None:
        unknown = sorted(set(entry) - HOST_KEYS)
        if unknown or not isinstance(entry.get("host"), str) or not entry["host"].strip():
            problem = f"unknown key(s) {', '.join(unknown)}" if unknown else "no host"
            raise ConfigError(
                f"task {call.name}: host {dict(entry)!r}: {problem}; a host dict takes "
                f"{', '.join(sorted(HOST_KEYS))}"
            )

    # ------------------------------------------------------------------ contexts

    def connection(self, host: HostEntry) -> AsyncConnection:
        """Return the Connection for a host string or dict (made on first use, with its own
        copy of the config)."""
        entry: Mapping[str, Any] = host if isinstance(host, Mapping) else {"host": host}
        key = _host_key(entry)
        conn = self._connections.get(key)
        if conn is None:
            settings = dict(entry)
            config = self.config.clone()
            extra = settings.pop("config", None)
            if extra is not None:
                config.merge(extra.to_dict() if isinstance(extra, DataProxy) else extra)
            gateway = settings.get("gateway")
            if isinstance(gateway, Connection):
                settings["gateway"] = gateway._async
            conn = AsyncConnection(config=config, **settings)
            self._connections[key] = conn
        return conn

    def label(self, host: HostEntry | None) -> str:
        """Return how a host is named in reports: its Connection's original_host ("local").

        Names a host without making its Connection: one made now would copy the config
        before a local task earlier in the run changes it (Fabric's `c.user = ...` in a
        task that runs before the hosts' tasks).
        """
        if host is None:
            return "local"
        entry: Mapping[str, Any] = host if isinstance(host, Mapping) else {"host": host}
        made = self._connections.get(_host_key(entry))
        if made is not None:
            return made.original_host
        return parse_host_string(str(entry["host"])).host

    def local_context(self) -> AsyncContext:
        """Return the Context for tasks run locally: one per execution, on the session's
        config itself (what a local task sets there reaches every later task)."""
        if self._local is None:
            self._local = AsyncContext(self.config)
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

    def _run_group(self, call: Call, hosts: list[HostKwargs]) -> dict[str, Any]:
        """Run one call on all its hosts through the group engine; return host -> value."""
        assert self.group_limits is not None
        group = AsyncGroup.from_connections(
            [self.connection(h) for h in hosts],
            executor=self.group_executor,
            **self.group_limits,
        )
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
            result = portal.call(group.apply, unit, operation=self.operation(call))
        finally:
            if workers is not None:
                workers.shutdown(wait=False)
        return {getattr(c, "original_host", str(c)): value for c, value in result.items()}

    def operation(self, call: Call) -> Operation | None:
        """Return what a worker runs for a call: the ad-hoc command, or the task by its name
        and corralfile (None without a group executor: the call itself runs here)."""
        if self.group_executor is None:
            return None
        command = adhoc_command(call)
        if command is not None:
            return Operation("run", (command,))
        source = self.source or inspect.getsourcefile(call.task.body)
        if source is None:
            raise ConfigError(
                f"task {call.name}: its source file is unknown, so no worker can import it; "
                "run it without --executor"
            )
        return Operation(
            "task",
            (call.name, call.task.name),
            {"args": call.args, "kwargs": call.kwargs},
            source=str(source),
        )

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

    def _labels(self, call: Call) -> list[str]:
        """Return the names of the hosts a call runs on (none when it runs locally)."""
        return [self.label(h) for h in self.hosts_for(call) if h is not None]

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
        hosts = list(dict.fromkeys(h for call in calls for h in self._labels(call)))
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
            hosts = [h for h in self._labels(call) if statuses.get(h, "ok") == "ok"]
            if hosts:
                recorder.task = _task_name(call)
                recorder.not_reached(hosts, f"not reached: the run ended before {call.name}")
        recorder.run_finished(exit_status)
        self.recorder = None

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
                label = self.label(host)
                self.current = (call, None if host is None else label)
                try:
                    value = self._run_host(call, host)
                except BaseException as exc:
                    later = [self.label(h) for h in hosts[position + 1 :] if h is not None]
                    self._not_reached(call, later, None if host is None else label, exc)
                    raise
                if call.task.autoprint and call.apply_hosts:
                    print(value, flush=True)
                values[label] = value
        self.current = None
        return values

    def _run_host(self, call: Call, host: HostKwargs | None) -> Any:
        """Run a call on one host (None: locally), recording its share when a run is."""
        connection = self.connection(host) if host is not None else None
        recorder = self.recorder
        if recorder is None or connection is None:
            return self._run_blocking(call, connection)
        name = connection.original_host
        recorder.host_started(name)
        connection.interrupted_result = None  # what an interrupt of this call stopped, if one does
        try:
            with in_run(connection, recorder):
                value = self._run_blocking(call, connection)
        except KeyboardInterrupt as exc:
            recorder.host_finished(name, _interrupted(connection, exc))
            raise
        except BaseException as exc:
            recorder.host_finished(name, exc)
            raise
        recorder.host_finished(name, value)
        return value

    def _not_reached(
        self, call: Call, hosts: Sequence[str], stopped: str | None, exc: BaseException
    ) -> None:
        """Record the hosts a call did not reach because it stopped on `stopped`."""
        if self.recorder is None or not hosts:
            return
        where = f" on {stopped}" if stopped else ""
        why = "was interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
        self.recorder.not_reached(list(hosts), f"not reached: {call.name}{where} {why} first")

    async def aclose(self) -> None:
        """Close every connection this executor opened, and stop its group executor's workers."""
        connections, self._connections = list(self._connections.values()), {}
        with contextlib.suppress(Exception):
            await asyncio.gather(*(c.close() for c in connections), return_exceptions=True)
        if self.group_executor is not None:
            with contextlib.suppress(Exception):
                await self.group_executor.close()

    def close(self) -> None:
        """Close every connection this executor opened (blocking)."""
        if self._connections or self.group_executor is not None:
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
