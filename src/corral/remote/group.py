"""`Group`: one operation on many hosts, as coroutines on one loop, under limits.

At most `concurrency` hosts are in flight; handshakes are admitted separately (a storm of
simultaneous key exchanges on two cores makes false timeouts and trips sshd's MaxStartups);
transient connect errors are retried with full-jitter backoff; rolling batches and failure
thresholds stop starting hosts; every host ends up in the GroupResult.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import random
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import IO, Any, TypeVar

from ..config import Config, Secret
from ..errors import (
    INTERRUPTED_STATUS,
    CommandInterrupted,
    ConfigError,
    ConnectError,
    CorralError,
    GroupException,
    HostSkipped,
    HostTimeout,
)
from ..events import EventBus, EventSink, OutputLine, bus_for, event_from_dict
from ..result import GroupResult, Result
from ..runner.command import Command, command_text
from ..runner.options import RunKwargs, Unpack
from ..runner.output import OutputListener, OutputRoute, route_listener
from ..runner.prefix import host_lines
from .connection import Connection
from .executors import GroupExecutor, HostJob, HostSpec, Interrupted, Operation, from_wire
from .limits import ensure_open_files
from .recorder import RunRecorder, run_secrets
from .transfer import DEFAULT_BUDGET, GetKwargs, LocalPath, PutKwargs, TransferPool

if sys.version_info >= (3, 11):
    from typing import TypedDict
else:  # pragma: no cover
    from typing_extensions import TypedDict

T = TypeVar("T")
HostCall = Callable[[Connection], Awaitable[Any]]

RETRY_BASE = 0.5  # seconds: full jitter in [0, min(cap, base * 2**attempt)]
RETRY_CAP = 10.0
#: Connection handshakes in flight at once across a group, at most: above ~300 at once on
#: 2 cores, key exchange starves and connect timeouts fire falsely (FIELD-NOTES §0.7); below
#: the concurrency, admission only adds waiting (measured: a cap of 32 under concurrency 100
#: made a 1,000-host fan-out 15-20% slower than a cap of 100).
HANDSHAKES = 128
#: Seconds Ctrl-C waits for a host's stopped command to end (TERM, then KILL, then close).
STOP_WAIT = 10.0


class GroupKwargs(TypedDict, total=False):
    """Per-call overrides of a group's limits."""

    concurrency: int
    batch_size: int | str | None
    max_failures: int | str | None
    fail_fast: bool
    host_timeout: float | None
    connect_retries: int
    transfer_budget: int


class ConnectionKwargs(TypedDict, total=False):
    """Settings of each host's Connection, as `Connection(host, ...)` takes them."""

    user: str | None
    port: int | None
    config: Config | None
    gateway: Any  # a Connection (of the same API) or a ProxyCommand string
    forward_agent: bool | None
    connect_timeout: float | None
    connect_kwargs: Mapping[str, Any] | None
    inline_ssh_env: bool | None
    persistent_session: bool | None


class RecordingKwargs(TypedDict, total=False):
    """Where a group's calls are recorded: each call is a run whose events go to `events`
    (and to `journal`, subscribed to them); without either nothing is recorded."""

    events: EventBus | None
    journal: EventSink | None


class GroupOptions(GroupKwargs, ConnectionKwargs, RecordingKwargs, total=False):
    """What `Group(*hosts, ...)` takes: the group's limits, each Connection's settings,
    where its calls are recorded, and where its hosts' shares run (`executor`: None runs them
    in this process; `corral.executors` makes a process pool or a Ray executor)."""

    executor: GroupExecutor | None


class GroupRunKwargs(RunKwargs, GroupKwargs, total=False):
    """Options of `Group.run`/`sudo`: the run options and the group's limits."""


class GroupPutKwargs(PutKwargs, GroupKwargs, total=False):
    """Options of `Group.put`: the put options and the group's limits."""


class GroupGetKwargs(GetKwargs, GroupKwargs, total=False):
    """Options of `Group.get`: the get options and the group's limits."""


@dataclass(frozen=True)
class GroupPolicy:
    """How a group spreads an operation over its hosts."""

    concurrency: int = 64
    batch_size: int | str | None = None
    max_failures: int | str | None = None
    fail_fast: bool = False
    host_timeout: float | None = None
    connect_retries: int = 3
    handshakes: int = HANDSHAKES
    #: Bytes all the hosts' transfers may hold in flight at once (requests and shared reads).
    transfer_budget: int = DEFAULT_BUDGET

    def __post_init__(self) -> None:
        if not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise ConfigError(f"concurrency={self.concurrency!r} must be a whole number >= 1")
        if not isinstance(self.connect_retries, int) or self.connect_retries < 0:
            raise ConfigError(f"connect_retries={self.connect_retries!r} must be >= 0")
        if self.host_timeout is not None and self.host_timeout <= 0:
            raise ConfigError(f"host_timeout={self.host_timeout!r} must be positive")
        try:
            TransferPool(self.transfer_budget)
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc


def count_of(value: int | str | None, total: int, name: str) -> int | None:
    """Turn N or "P%" into a host count (at least 1 for a batch), or None when unset."""
    if value is None:
        return None
    try:
        if isinstance(value, str) and value.strip().endswith("%"):
            percent = float(value.strip()[:-1])
            if not 0 <= percent <= 100:
                raise ValueError
            return int(total * percent / 100)
        number = int(value)
        if number < 0:
            raise ValueError
        return number
    except ValueError as exc:
        raise ConfigError(
            f"{name}={value!r}: expected a count (e.g. 10) or a percentage (10%)"
        ) from exc


@contextlib.contextmanager
def sharing(connections: Sequence[Connection], pool: TransferPool) -> Iterator[None]:
    """While the block runs, the connections' transfers share `pool` (budget, local files)."""
    saved = [conn.transfer_pool for conn in connections]
    for conn in connections:
        conn.transfer_pool = pool
    try:
        yield
    finally:
        for conn, before in zip(connections, saved, strict=True):
            conn.transfer_pool = before


@contextlib.contextmanager
def prefixed_output(conn: Connection) -> Iterator[None]:
    """While the block runs, `conn`'s commands show their output as `[host] ` lines.

    Calls that name their own stream or hide output are left alone; a final partial line is
    written when the block ends. A recorded run's listener on the route is kept.
    """
    saved = conn.output_route
    route = host_lines(conn.original_host, route_listener(saved))
    conn.output_route = route
    try:
        yield
    finally:
        conn.output_route = saved
        route.close()


@contextlib.contextmanager
def recorded_output(conn: Connection, listener: OutputListener) -> Iterator[None]:
    """While the block runs, `conn`'s commands hand their output to `listener` too (the run's
    OutputLine events), shown or hidden; where it is shown does not change."""
    saved = conn.output_route
    if saved is None:
        conn.output_route = OutputRoute(listener=listener)
    else:
        conn.output_route = dataclasses.replace(saved, listener=listener)
    try:
        yield
    finally:
        conn.output_route = saved


@contextlib.contextmanager
def in_run(conn: Connection, recorder: RunRecorder) -> Iterator[None]:
    """While the block runs, `conn` works for the recorder's run: `conn.events` and
    `conn.run_id` (where operations report) and its output recorded."""
    saved = conn.events, conn.run_id
    conn.events, conn.run_id = recorder.bus, recorder.run_id
    try:
        with recorded_output(conn, recorder.listener(conn.original_host)):
            yield
    finally:
        conn.events, conn.run_id = saved


def _split_kwargs(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    limits = {k: kwargs.pop(k) for k in list(kwargs) if k in GroupKwargs.__annotations__}
    return limits, kwargs


class Group:
    """Many hosts: run, sudo, put and get on all of them at once, under limits."""

    _serial = False  # SerialGroup: one host at a time, whatever concurrency says

    def __init__(self, *hosts: str, **options: Unpack[GroupOptions]) -> None:
        limits, settings = _split_kwargs(dict(options))
        events, journal = settings.pop("events", None), settings.pop("journal", None)
        #: Where hosts' shares run (None: here, on this loop); the limits stay global here.
        self.executor: GroupExecutor | None = settings.pop("executor", None)
        self.connections: list[Connection] = [Connection(h, **settings) for h in hosts]
        self.policy = GroupPolicy(**limits)
        if self._serial:
            self.policy = replace(self.policy, concurrency=1)
        #: The result of the latest call, filled in as hosts finish (also after Ctrl-C).
        self.last_result: GroupResult | None = None
        #: Called with (host, state) as hosts start ("running") and end ("ok", "failed",
        #: "skipped"): for progress displays.
        self.on_progress: Callable[[str, str], None] | None = None
        #: Where each call is recorded as a run (None: nothing is recorded).
        self.events: EventBus | None = bus_for(events, journal)
        #: The run the group's calls belong to when an executor records one: the group then
        #: emits its hosts' events into that run instead of a run per call.
        self.recorder: RunRecorder | None = None
        #: What the latest call's transfers shared: its budget's `peak` says the most bytes
        #: they held in flight at once, its files' `reads` how many blocks were read.
        self.last_pool: TransferPool | None = None

    @classmethod
    def from_connections(
        cls,
        connections: Sequence[Connection],
        *,
        events: EventBus | None = None,
        journal: EventSink | None = None,
        executor: GroupExecutor | None = None,
        **limits: Unpack[GroupKwargs],
    ) -> Group:
        """Make a group of existing connections (recorded like `Group(..., events=...)`)."""
        group = cls(events=events, journal=journal, executor=executor, **limits)
        group.connections = list(connections)
        return group

    def __iter__(self) -> Iterator[Connection]:
        return iter(self.connections)

    def __len__(self) -> int:
        return len(self.connections)

    def __getitem__(self, index: int) -> Connection:
        return self.connections[index]

    async def __aenter__(self) -> Group:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close every host's connection."""
        await asyncio.gather(*(c.close() for c in self.connections), return_exceptions=True)

    # ------------------------------------------------------------------ operations

    async def apply(
        self,
        function: Callable[[Connection], Awaitable[Any]],
        *,
        operation: Operation | None = None,
        **limits: Unpack[GroupKwargs],
    ) -> GroupResult:
        """Await `function(connection)` for every host, under the group's limits.

        The GroupResult maps each host to what the function returned, or what it raised. With
        an executor, what runs on each worker is `operation` (the same work, as data), else the
        function itself when it is a module-level function (sent by reference).
        """
        name = getattr(function, "__name__", None) or type(function).__name__
        if operation is None and self.executor is not None:
            operation = Operation("call", (function,))
        return await self._each(function, dict(limits), f"apply {name}", operation)

    async def run(self, command: Command, **kwargs: Unpack[GroupRunKwargs]) -> GroupResult:
        """Run a command on every host; raise GroupException if any host failed."""
        limits, options = _split_kwargs(dict(kwargs))
        op = self._command_op("run", command, options)
        operation = Operation("run", (command,), options)
        return await self._each(op, limits, command_text(command), operation)

    async def sudo(
        self,
        command: Command,
        user: str | None = None,
        password: str | None = None,
        **kwargs: Unpack[GroupRunKwargs],
    ) -> GroupResult:
        """Run a command through sudo on every host (one password for all)."""
        limits, options = _split_kwargs(dict(kwargs))
        options.update(user=user, password=password)
        op = self._command_op("sudo", command, options)
        operation = Operation("sudo", (command,), options)
        return await self._each(op, limits, f"sudo {command_text(command)}", operation)

    async def put(
        self,
        local: LocalPath | IO[bytes],
        remote: str | None = None,
        preserve_mode: bool = True,
        **kwargs: Unpack[GroupPutKwargs],
    ) -> GroupResult:
        """Upload a file (or tree) to every host."""
        limits, options = _split_kwargs(dict(kwargs))
        return await self._each(
            lambda c: c.put(local, remote, preserve_mode, **options),
            limits,
            f"put {getattr(local, 'name', local)} {remote or ''}".rstrip(),
            Operation("put", (local, remote, preserve_mode), options),
        )

    async def get(
        self,
        remote: str,
        local: str = "{host}/",
        preserve_mode: bool = True,
        **kwargs: Unpack[GroupGetKwargs],
    ) -> GroupResult:
        """Download a file from every host; `local` must separate hosts, e.g. "{host}/"."""
        if len(self.connections) > 1 and "{host}" not in str(local):
            raise ConfigError(
                f"group get: local path {local!r} must contain {{host}} (e.g. 'logs/{{host}}/') "
                "or every host would overwrite the same file"
            )
        limits, options = _split_kwargs(dict(kwargs))
        return await self._each(
            lambda c: c.get(remote, local, preserve_mode, **options),
            limits,
            f"get {remote}",
            Operation("get", (remote, local, preserve_mode), options),
        )

    async def facts(self, refresh: bool = False, **limits: Unpack[GroupKwargs]) -> GroupResult:
        """Gather every host's facts, one round trip each; the GroupResult maps host -> Facts."""
        return await self._each(
            lambda conn: conn.facts(refresh), dict(limits), "facts", Operation("facts", (refresh,))
        )

    def _command_op(self, method: str, command: Command, options: dict[str, Any]) -> HostCall:
        prefix = len(self.connections) > 1

        async def op(conn: Connection) -> Result:
            call = getattr(conn, method)
            if not prefix:
                return await call(command, **options)  # type: ignore[no-any-return]
            with prefixed_output(conn):
                return await call(command, **options)  # type: ignore[no-any-return]

        return op

    # ------------------------------------------------------------------ the engine

    async def _each(
        self,
        op: HostCall,
        overrides: dict[str, Any],
        what: str,
        operation: Operation | None = None,
    ) -> GroupResult:
        recorder, own_run = self.recorder, False
        if recorder is None and self.events is not None:  # a run of its own: this call
            recorder, own_run = self._start_run(what), True
        try:
            result = await self._engine(op, overrides, recorder, operation)
        except BaseException as exc:
            if own_run and recorder is not None:
                if isinstance(exc, CorralError):  # GroupException: its hosts' common status
                    recorder.run_finished(exc.exit_code)
                elif isinstance(exc, asyncio.CancelledError | KeyboardInterrupt):
                    recorder.run_finished(INTERRUPTED_STATUS)
                else:
                    recorder.run_finished(1)
            raise
        if own_run and recorder is not None:
            recorder.run_finished(0)
        return result

    def _start_run(self, what: str) -> RunRecorder:
        """Start recording one call as a run (a group used without an executor)."""
        assert self.events is not None
        secrets = [s for c in self.connections for s in run_secrets(c.config)]
        recorder = RunRecorder(self.events, secrets=secrets)
        recorder.task = what
        policy = dataclasses.asdict(self.policy)
        recorder.run_started(
            hosts=[c.original_host for c in self.connections], command=what, config=policy
        )
        return recorder

    async def _engine(
        self,
        op: HostCall,
        overrides: dict[str, Any],
        recorder: RunRecorder | None,
        operation: Operation | None = None,
    ) -> GroupResult:
        policy = replace(self.policy, **overrides) if overrides else self.policy
        if self._serial:
            policy = replace(policy, concurrency=1)
        connections = list(self.connections)
        total = len(connections)
        concurrency = ensure_open_files(min(policy.concurrency, max(total, 1)))
        batch = count_of(policy.batch_size, total, "batch_size") or total
        limit = 0 if policy.fail_fast else count_of(policy.max_failures, total, "max_failures")
        slots = asyncio.Semaphore(concurrency)
        handshakes = asyncio.Semaphore(min(policy.handshakes, concurrency))
        outcomes: dict[int, Any] = {}
        started_hosts: dict[int, float] = {}  # for Ctrl-C: interrupted, not skipped
        reported: set[int] = set()  # hosts whose HostFinished was emitted
        state: dict[str, Any] = {"failures": 0, "stop": None}
        started = time.monotonic()
        result = GroupResult()
        self.last_result = result
        executor = self.executor
        specs: list[HostSpec] = []
        secrets: tuple[Secret, ...] = ()
        if executor is not None:  # before any host starts: a refusal leaves every host alone
            if operation is None:
                raise ConfigError(
                    f"this call cannot run on the {executor.name} executor (a file "
                    "object or a closure cannot travel to a worker); give a path, or run the "
                    "group without an executor"
                )
            operation.check_travels()
            placement = getattr(executor, "placement", None)
            specs = [HostSpec.of(c, placement) for c in connections]
            found = {s for c in connections for s in run_secrets(c.config)}
            found.update(recorder.secrets if recorder is not None else ())
            secrets = tuple(Secret(s) for s in sorted(found))  # what workers mask
            await executor.start(specs)

        durations: dict[int, float] = {}

        def record(index: int, outcome: Any, took: float | None = None) -> None:
            outcomes[index] = outcome
            key = connections[index]
            result[key] = outcome  # live view; ordered at the end
            if took is not None:
                durations[index] = result.durations[key] = took
            result.duration = time.monotonic() - started
            if recorder is not None:
                reported.add(index)
                recorder.host_finished(key.original_host, outcome, took)
            if self.on_progress is not None:
                self.on_progress(connections[index].original_host, _state_of(outcome))

        def publish() -> None:  # every host in group order
            result.clear()
            result.durations.clear()
            for index, conn in enumerate(connections):
                if index in outcomes:
                    result[conn] = outcomes[index]
                if index in durations:
                    result.durations[conn] = durations[index]
            result.duration = time.monotonic() - started

        async def one(index: int, conn: Connection) -> None:
            async with slots:
                if state["stop"] is not None:
                    record(index, HostSkipped(conn.original_host, state["stop"]))
                    return
                if recorder is not None:
                    recorder.host_started(conn.original_host)
                if self.on_progress is not None:
                    self.on_progress(conn.original_host, "running")
                began = started_hosts[index] = time.monotonic()
                conn.interrupted_result = None
                try:
                    if executor is not None and operation is not None:
                        job = self._job(specs[index], operation, policy, recorder, secrets)
                        outcome: Any = await self._remote(executor, conn, job, recorder)
                    else:
                        with in_run(conn, recorder) if recorder else contextlib.nullcontext():
                            outcome = await self._host(conn, op, policy, handshakes)
                except Interrupted as stop:  # Ctrl-C: the worker said how the host ended
                    stopped = from_wire(stop.outcome, conn, conn.original_host)
                    if isinstance(stopped, CommandInterrupted):
                        conn.interrupted_result = stopped.result
                        record(index, stopped, time.monotonic() - began)
                    raise asyncio.CancelledError from None
                except Exception as exc:  # every host gets an outcome, whatever went wrong
                    outcome = exc
                record(index, outcome, time.monotonic() - began)
                if isinstance(outcome, BaseException):
                    state["failures"] += 1
                    if limit is not None and state["failures"] > limit and state["stop"] is None:
                        state["stop"] = (
                            f"not started: {state['failures']} host(s) failed, more than "
                            f"max_failures={limit} (first to cross it: {conn.original_host})"
                        )

        waves = [range(i, min(i + batch, total)) for i in range(0, total, batch)]
        pool = TransferPool(policy.transfer_budget, concurrency)
        self.last_pool = pool
        try:
            with sharing(connections, pool):
                for wave in waves:
                    if state["stop"] is not None:
                        for index in wave:
                            host = connections[index].original_host
                            record(index, HostSkipped(host, state["stop"]))
                        continue
                    tasks = [asyncio.ensure_future(one(i, connections[i])) for i in wave]
                    try:
                        await asyncio.gather(*tasks)
                    except asyncio.CancelledError:
                        await self._interrupt(tasks, connections, outcomes, set(started_hosts))
                        if recorder is not None:  # the interrupted and never started hosts
                            now = time.monotonic()
                            for index in sorted(set(outcomes) - reported):
                                began = started_hosts.get(index)
                                took = now - began if began is not None else None
                                recorder.host_finished(
                                    connections[index].original_host, outcomes[index], took
                                )
                        publish()
                        raise
        finally:
            await pool.aclose()
        publish()
        if result.failed or result.skipped:
            raise GroupException(result)
        return result

    def _job(
        self,
        spec: HostSpec,
        operation: Operation,
        policy: GroupPolicy,
        recorder: RunRecorder | None,
        secrets: tuple[Secret, ...],
    ) -> HostJob:
        return HostJob(
            spec,
            operation,
            connect_retries=policy.connect_retries,
            host_timeout=policy.host_timeout,
            run_id=recorder.run_id if recorder is not None else None,
            secrets=secrets,
            prefixed=len(self.connections) > 1,
        )

    async def _remote(
        self,
        executor: GroupExecutor,
        conn: Connection,
        job: HostJob,
        recorder: RunRecorder | None,
    ) -> Any:
        """One host's share on the executor: its events re-emitted here as they come (output
        shown as this process would show it), its outcome rebuilt."""
        host = conn.original_host

        def emit(data: dict[str, Any]) -> None:
            event = event_from_dict(data)
            if recorder is not None:
                recorder.bus.emit(event)
            if isinstance(event, OutputLine) and not event.hidden:
                stream = sys.stderr if event.stream == "stderr" else sys.stdout
                prefix = f"[{host}] " if job.prefixed else ""
                stream.write(f"{prefix}{event.text}\n")

        return from_wire(await executor.run(job, emit), conn, host)

    async def _interrupt(
        self,
        tasks: Sequence[asyncio.Future[None]],
        connections: list[Connection],
        outcomes: dict[int, Any],
        started: set[int],
    ) -> None:
        """Ctrl-C: stop running hosts (their remote commands end) and skip the rest."""
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # a sync task's command runs in a task of its own: let it finish stopping and say
        # what it printed
        stopping = [connections[index] for index in started]
        await asyncio.gather(*(c.wait_commands(STOP_WAIT) for c in stopping))
        for index, conn in enumerate(connections):
            host = conn.original_host
            if index not in started:
                outcomes.setdefault(
                    index, HostSkipped(host, "not started: the run was interrupted")
                )
                continue
            outcomes.setdefault(index, interrupted_outcome(conn))

    async def _host(
        self,
        conn: Connection,
        op: HostCall,
        policy: GroupPolicy,
        handshakes: asyncio.Semaphore,
    ) -> Any:
        """One host's share: connect (admitted, retried), then the operation, under a deadline."""
        return await host_share(
            conn, op, handshakes, retries=policy.connect_retries, timeout=policy.host_timeout
        )


async def host_share(
    conn: Connection,
    op: HostCall,
    handshakes: asyncio.Semaphore,
    *,
    retries: int,
    timeout: float | None,
) -> Any:
    """Run one host's share: connect (admitted by `handshakes`, transient errors retried
    `retries` times), then `op(conn)`, all within `timeout` seconds (HostTimeout)."""

    async def attempt() -> Any:
        for number in range(retries + 1):
            try:
                if not conn.is_connected:
                    async with handshakes:  # the connect timeout starts once admitted
                        await conn.open()
                return await op(conn)
            except ConnectError as exc:
                if not exc.retryable or number == retries:
                    raise
                await asyncio.sleep(random.uniform(0, min(RETRY_CAP, RETRY_BASE * 2**number)))
        raise AssertionError("unreachable")

    if timeout is None:
        return await attempt()
    try:
        return await asyncio.wait_for(attempt(), timeout)
    except (TimeoutError, asyncio.TimeoutError) as exc:
        raise HostTimeout(
            conn.original_host,
            f"did not finish within host_timeout={timeout:g} s; its command was stopped",
        ) from exc


def interrupted_outcome(conn: Connection) -> CommandInterrupted:
    """Return how a host whose share Ctrl-C stopped is reported: what it was doing, and what
    its stopped command printed."""
    partial = conn.interrupted_result
    if partial is not None:
        doing = f"while running {partial.command!r}; the command was stopped"
    elif not conn.is_connected:
        doing = "while connecting; nothing ran"
    else:
        doing = "between commands; nothing was running"
    return CommandInterrupted(conn.original_host, f"interrupted {doing}", result=partial)


def _state_of(outcome: Any) -> str:
    if isinstance(outcome, Result):
        return "ok" if outcome.ok else "failed"
    if not isinstance(outcome, BaseException):
        return "ok"  # a value (a task's return value, Facts): the host succeeded
    return "skipped" if getattr(outcome, "skipped", False) else "failed"


class SerialGroup(Group):
    """A Group that runs one host at a time, in order."""

    _serial = True


class ThreadingGroup(Group):
    """Fabric's name for a concurrent group; corral runs it on the async engine, not threads."""
