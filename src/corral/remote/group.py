"""`Group`: one operation on many hosts, as coroutines on one loop, under limits.

At most `concurrency` hosts are in flight; handshakes are admitted separately (a storm of
simultaneous key exchanges on two cores makes false timeouts and trips sshd's MaxStartups);
transient connect errors are retried with full-jitter backoff; rolling batches and failure
thresholds stop starting hosts; every host ends up in the GroupResult.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from ..errors import ConfigError, ConnectError, GroupException, HostSkipped, HostTimeout
from ..result import GroupResult, Result
from ..runner.command import Command
from ..runner.options import RunKwargs, Unpack
from ..runner.prefix import PrefixedStream
from .connection import Connection
from .limits import ensure_open_files

if sys.version_info >= (3, 11):
    from typing import TypedDict
else:  # pragma: no cover
    from typing_extensions import TypedDict

T = TypeVar("T")
Operation = Callable[[Connection], Awaitable[Any]]

RETRY_BASE = 0.5  # seconds: full jitter in [0, min(cap, base * 2**attempt)]
RETRY_CAP = 10.0
#: Connection handshakes in flight at once across a group, at most: above ~300 at once on
#: 2 cores, key exchange starves and connect timeouts fire falsely (FIELD-NOTES §0.7); below
#: the concurrency, admission only adds waiting (measured: a cap of 32 under concurrency 100
#: made a 1,000-host fan-out 15-20% slower than a cap of 100).
HANDSHAKES = 128


class GroupKwargs(TypedDict, total=False):
    """Per-call overrides of a group's limits."""

    concurrency: int
    batch_size: int | str | None
    max_failures: int | str | None
    fail_fast: bool
    host_timeout: float | None
    connect_retries: int


class GroupRunKwargs(RunKwargs, GroupKwargs, total=False):
    """Options of `Group.run`/`sudo`: the run options and the group's limits."""


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

    def __post_init__(self) -> None:
        if not isinstance(self.concurrency, int) or self.concurrency < 1:
            raise ConfigError(f"concurrency={self.concurrency!r} must be a whole number >= 1")
        if not isinstance(self.connect_retries, int) or self.connect_retries < 0:
            raise ConfigError(f"connect_retries={self.connect_retries!r} must be >= 0")
        if self.host_timeout is not None and self.host_timeout <= 0:
            raise ConfigError(f"host_timeout={self.host_timeout!r} must be positive")


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
    except ValueError:
        raise ConfigError(
            f"{name}={value!r}: expected a count (e.g. 10) or a percentage (10%)"
        ) from None


def _split_kwargs(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    limits = {k: kwargs.pop(k) for k in list(kwargs) if k in GroupKwargs.__annotations__}
    return limits, kwargs


class Group:
    """Many hosts: run, sudo, put and get on all of them at once, under limits."""

    _serial = False  # SerialGroup: one host at a time, whatever concurrency says

    def __init__(
        self,
        *hosts: str,
        concurrency: int = 64,
        batch_size: int | str | None = None,
        max_failures: int | str | None = None,
        fail_fast: bool = False,
        host_timeout: float | None = None,
        connect_retries: int = 3,
        **connection_kwargs: Any,
    ) -> None:
        self.connections: list[Connection] = [Connection(h, **connection_kwargs) for h in hosts]
        self.policy = GroupPolicy(
            concurrency=1 if self._serial else concurrency,
            batch_size=batch_size,
            max_failures=max_failures,
            fail_fast=fail_fast,
            host_timeout=host_timeout,
            connect_retries=connect_retries,
        )
        #: The result of the latest call, filled in as hosts finish (also after Ctrl-C).
        self.last_result: GroupResult | None = None
        #: Called with (host, state) as hosts start ("running") and end ("ok", "failed",
        #: "skipped"): for progress displays.
        self.on_progress: Callable[[str, str], None] | None = None

    @classmethod
    def from_connections(cls, connections: Sequence[Connection], **limits: Any) -> Group:
        """Make a group of existing connections."""
        group = cls(**limits)
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
        self, function: Callable[[Connection], Awaitable[Any]], **limits: Unpack[GroupKwargs]
    ) -> GroupResult:
        """Await `function(connection)` for every host, under the group's limits.

        The GroupResult maps each host to what the function returned, or what it raised.
        """
        return await self._each(function, dict(limits))

    async def run(self, command: Command, **kwargs: Unpack[GroupRunKwargs]) -> GroupResult:
        """Run a command on every host; raise GroupException if any host failed."""
        limits, options = _split_kwargs(dict(kwargs))
        return await self._each(self._command_op("run", command, options), limits)

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
        return await self._each(self._command_op("sudo", command, options), limits)

    async def put(self, local: Any, remote: str | None = None, **kwargs: Any) -> GroupResult:
        """Upload a file (or tree) to every host."""
        limits, options = _split_kwargs(dict(kwargs))
        return await self._each(lambda c: c.put(local, remote, **options), limits)

    async def get(self, remote: str, local: str = "{host}/", **kwargs: Any) -> GroupResult:
        """Download a file from every host; `local` must separate hosts, e.g. "{host}/"."""
        if len(self.connections) > 1 and "{host}" not in str(local):
            raise ConfigError(
                f"group get: local path {local!r} must contain {{host}} (e.g. 'logs/{{host}}/') "
                "or every host would overwrite the same file"
            )
        limits, options = _split_kwargs(dict(kwargs))
        return await self._each(lambda c: c.get(remote, local, **options), limits)

    async def facts(self, refresh: bool = False, **limits: Unpack[GroupKwargs]) -> GroupResult:
        """Gather every host's facts, one round trip each; the GroupResult maps host -> Facts."""
        return await self._each(lambda conn: conn.facts(refresh), dict(limits))

    def _command_op(self, method: str, command: Command, options: dict[str, Any]) -> Operation:
        hidden = options.get("hide") in (True, "both")
        prefix = len(self.connections) > 1 and not hidden

        async def op(conn: Connection) -> Result:
            call = getattr(conn, method)
            if not prefix:
                return await call(command, **options)  # type: ignore[no-any-return]
            streams: dict[str, Any] = {}
            hide = options.get("hide")
            if "out_stream" not in options and hide not in ("out", "stdout"):
                streams["out_stream"] = PrefixedStream(conn.original_host, sys.stdout)
            if "err_stream" not in options and hide not in ("err", "stderr"):
                streams["err_stream"] = PrefixedStream(conn.original_host, sys.stderr)
            extra: dict[str, Any] = {"capture_limit": None} if streams else {}
            try:
                return await call(command, **{**extra, **options, **streams})  # type: ignore[no-any-return]
            finally:
                for stream in streams.values():
                    stream.close()

        return op

    # ------------------------------------------------------------------ the engine

    async def _each(self, op: Operation, overrides: dict[str, Any]) -> GroupResult:
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
        state: dict[str, Any] = {"failures": 0, "stop": None}
        started = time.monotonic()
        result = GroupResult()
        self.last_result = result

        durations: dict[int, float] = {}

        def record(index: int, outcome: Any, took: float | None = None) -> None:
            outcomes[index] = outcome
            key = connections[index]._public
            result[key] = outcome  # live view; ordered at the end
            if took is not None:
                durations[index] = result.durations[key] = took
            result.duration = time.monotonic() - started
            if self.on_progress is not None:
                self.on_progress(connections[index].original_host, _state_of(outcome))

        def publish() -> None:  # every host in group order
            result.clear()
            result.durations.clear()
            for index, conn in enumerate(connections):
                if index in outcomes:
                    result[conn._public] = outcomes[index]
                if index in durations:
                    result.durations[conn._public] = durations[index]
            result.duration = time.monotonic() - started

        async def one(index: int, conn: Connection) -> None:
            async with slots:
                if state["stop"] is not None:
                    record(index, HostSkipped(conn.original_host, state["stop"]))
                    return
                if self.on_progress is not None:
                    self.on_progress(conn.original_host, "running")
                began = time.monotonic()
                try:
                    outcome: Any = await self._host(conn, op, policy, handshakes)
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
        for wave in waves:
            if state["stop"] is not None:
                for index in wave:
                    record(index, HostSkipped(connections[index].original_host, state["stop"]))
                continue
            tasks = [asyncio.ensure_future(one(i, connections[i])) for i in wave]
            try:
                await asyncio.gather(*tasks)
            except asyncio.CancelledError:
                await self._interrupt(tasks, connections, outcomes)
                publish()
                raise
        publish()
        if result.failed or result.skipped:
            raise GroupException(result)
        return result

    async def _interrupt(
        self,
        tasks: Sequence[asyncio.Future[None]],
        connections: list[Connection],
        outcomes: dict[int, Any],
    ) -> None:
        """Ctrl-C: stop running hosts (their remote commands end) and skip the rest."""
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for index, conn in enumerate(connections):
            outcomes.setdefault(index, HostSkipped(conn.original_host, "interrupted (Ctrl-C)"))

    async def _host(
        self,
        conn: Connection,
        op: Operation,
        policy: GroupPolicy,
        handshakes: asyncio.Semaphore,
    ) -> Any:
        """One host's share: connect (admitted, retried), then the operation, under a deadline."""

        async def attempt() -> Any:
            for number in range(policy.connect_retries + 1):
                try:
                    if not conn.is_connected:
                        async with handshakes:  # the connect timeout starts once admitted
                            await conn.open()
                    return await op(conn)
                except ConnectError as exc:
                    if not exc.retryable or number == policy.connect_retries:
                        raise
                    await asyncio.sleep(random.uniform(0, min(RETRY_CAP, RETRY_BASE * 2**number)))
            raise AssertionError("unreachable")

        if policy.host_timeout is None:
            return await attempt()
        try:
            return await asyncio.wait_for(attempt(), policy.host_timeout)
        except (TimeoutError, asyncio.TimeoutError):
            raise HostTimeout(
                conn.original_host,
                f"did not finish within host_timeout={policy.host_timeout:g} s; "
                "its command was stopped",
            ) from None


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
