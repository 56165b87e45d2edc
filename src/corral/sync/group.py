"""Blocking `Group`, `SerialGroup` and `ThreadingGroup`: lists of Connections (as Fabric's
are), whose calls run on the async group engine through the portal."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any, ClassVar

from ..events import EventBus, EventSink, bus_for
from ..remote import group as engine
from ..remote.connection import Connection as AsyncConnection
from ..remote.executors import GroupExecutor, Operation
from ..remote.transfer import LocalPath
from ..result import GroupResult
from ..runner.command import Command
from ..runner.options import Unpack
from .connection import Connection
from .facade import call, public


class Group(list[Connection]):
    """Many hosts: run, sudo, put and get on all of them at once, under limits.

    A list of Connections, as Fabric's Group is: `group.append(c)`, `group.extend(...)`,
    `for c in group`. Each call runs on the group engine, over the connections the list
    holds then; where a Connection subclass overrides the method called (its own `run`),
    that method is what runs on each host, as in Fabric.
    """

    _engine_class: ClassVar[type[engine.Group]] = engine.Group
    _limits: dict[str, Any] = {}  # replaced, never changed in place
    _last: engine.Group | None = None
    _events: EventBus | None = None
    _executor: GroupExecutor | None = None

    def __init__(self, *hosts: str, **options: Unpack[engine.GroupOptions]) -> None:
        super().__init__()
        settings: dict[str, Any] = dict(options)
        self._events = bus_for(settings.pop("events", None), settings.pop("journal", None))
        self._executor = settings.pop("executor", None)
        limits = {
            k: settings.pop(k) for k in list(settings) if k in engine.GroupKwargs.__annotations__
        }
        engine.GroupPolicy(**limits)  # bad limits fail here, not at the first call
        self._limits = limits
        self.extend(Connection(host, **settings) for host in hosts)

    @classmethod
    def from_connections(
        cls,
        connections: Iterable[Connection],
        *,
        events: EventBus | None = None,
        journal: EventSink | None = None,
        executor: GroupExecutor | None = None,
        **limits: Unpack[engine.GroupKwargs],
    ) -> Group:
        """Make a group of existing connections (recorded like `Group(..., events=...)`)."""
        group = cls()
        group.extend(connections)
        engine.GroupPolicy(**limits)
        group._limits = dict(limits)
        group._events = bus_for(events, journal)
        group._executor = executor
        return group

    @property
    def events(self) -> EventBus | None:
        """Where each call is recorded as a run (None: nothing is recorded)."""
        return self._events

    @property
    def connections(self) -> list[Connection]:
        """The group's connections."""
        return list(self)

    @property
    def last_result(self) -> GroupResult | None:
        """The result of the latest call, filled in as hosts finish (also after Ctrl-C)."""
        last = self._last.last_result if self._last is not None else None
        return None if last is None else public(last)

    def _engine(self) -> engine.Group:
        """The group engine over the connections the list holds now."""
        self._last = self._engine_class.from_connections(
            [c._async for c in self],
            events=self._events,
            executor=self._executor,
            **self._limits,
        )
        return self._last

    def __enter__(self) -> Group:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every host's connection."""
        return call(self._engine().close)

    def apply(
        self,
        function: Callable[[Connection], Any],
        *,
        operation: Operation | None = None,
        **limits: Unpack[engine.GroupKwargs],
    ) -> GroupResult:
        """Call `function(connection)` for every host, under the group's limits.

        The function blocks (it may call the connection's methods), so each host in flight
        has a worker thread; the GroupResult maps each host to its return value or error.
        With an executor, each worker runs `operation`, else the function itself (a
        module-level function, sent by reference, called with its blocking Connection).
        """
        group = self._engine()
        if operation is None and group.executor is not None:
            operation = Operation("call", (function,), {"blocking": True})
        concurrency = int(limits.get("concurrency") or group.policy.concurrency)
        workers = ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(group))))
        twins = {id(c._async): c for c in self}

        async def one(conn: AsyncConnection) -> Any:
            loop = asyncio.get_running_loop()
            try:
                return await loop.run_in_executor(workers, function, twins[id(conn)])
            except asyncio.CancelledError:
                # Ctrl-C: the function's thread goes on; stop what it runs, refuse new calls
                conn.interrupt()
                raise

        try:
            return call(group.apply, one, operation=operation, **limits)
        finally:
            workers.shutdown(wait=False)

    def _do(self, method: str, *args: Any, **kwargs: Any) -> GroupResult:
        """Call the Connection method `method` with these arguments on every host (Fabric's
        dispatch, which subclasses use): each host's own method, in worker threads."""
        limits = {k: kwargs.pop(k) for k in list(kwargs) if k in engine.GroupKwargs.__annotations__}
        return self.apply(lambda c: getattr(c, method)(*args, **kwargs), **limits)

    def _overridden(self, method: str) -> bool:
        """True when some connection's class has its own `method` (it must be what runs)."""
        return any(getattr(type(c), method) is not getattr(Connection, method) for c in self)

    def run(self, command: Command, **kwargs: Unpack[engine.GroupRunKwargs]) -> GroupResult:
        """Run a command on every host; raise GroupException if any host failed."""
        if self._overridden("run"):
            return self._do("run", command, **kwargs)
        return call(self._engine().run, command, **kwargs)

    def sudo(
        self,
        command: Command,
        user: str | None = None,
        password: str | None = None,
        **kwargs: Unpack[engine.GroupRunKwargs],
    ) -> GroupResult:
        """Run a command through sudo on every host (one password for all)."""
        if self._overridden("sudo"):
            return self._do("sudo", command, user, password, **kwargs)
        return call(self._engine().sudo, command, user, password, **kwargs)

    def facts(self, refresh: bool = False, **limits: Unpack[engine.GroupKwargs]) -> GroupResult:
        """Gather every host's facts, one round trip each; the GroupResult maps host -> Facts."""
        return call(self._engine().facts, refresh, **limits)

    def put(
        self,
        local: LocalPath | IO[bytes],
        remote: str | None = None,
        preserve_mode: bool = True,
        **kwargs: Unpack[engine.GroupPutKwargs],
    ) -> GroupResult:
        """Upload a file (or tree) to every host."""
        if self._overridden("put"):
            return self._do("put", local, remote, preserve_mode, **kwargs)
        return call(self._engine().put, local, remote, preserve_mode, **kwargs)

    def get(
        self,
        remote: str,
        local: str = "{host}/",
        preserve_mode: bool = True,
        **kwargs: Unpack[engine.GroupGetKwargs],
    ) -> GroupResult:
        """Download a file from every host; `local` must separate hosts, e.g. "{host}/"."""
        if self._overridden("get"):
            return self._do("get", remote, local, preserve_mode, **kwargs)
        return call(self._engine().get, remote, local, preserve_mode, **kwargs)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {', '.join(c.original_host for c in self)}>"


class SerialGroup(Group):
    """A Group that runs one host at a time, in order."""

    _engine_class = engine.SerialGroup


class ThreadingGroup(Group):
    """Fabric's name for a concurrent group; corral runs it on the async engine, not threads."""

    _engine_class = engine.ThreadingGroup
