"""Blocking `Group`, `SerialGroup` and `ThreadingGroup`: each method one call onto the portal."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from ..events import EventBus, EventSink
from ..remote import group as engine
from ..remote.connection import Connection as AsyncConnection
from ..remote.transfer import LocalPath
from ..result import GroupResult
from ..runner.command import Command
from ..runner.options import Unpack
from .connection import Connection
from .facade import Facade, call, public


class Group(Facade, core=engine.Group):
    """Many hosts: run, sudo, put and get on all of them at once, under limits."""

    _async: engine.Group
    _engine_class: type[engine.Group] = engine.Group

    def __init__(self, *hosts: str, **options: Unpack[engine.GroupOptions]) -> None:
        gateway = options.get("gateway")
        if isinstance(gateway, Connection):
            options["gateway"] = gateway._async
        self._adopt(self._engine_class(*hosts, **options))

    @classmethod
    def from_connections(
        cls,
        connections: Sequence[Connection],
        *,
        events: EventBus | None = None,
        journal: EventSink | None = None,
        **limits: Unpack[engine.GroupKwargs],
    ) -> Group:
        """Make a group of existing connections (recorded like `Group(..., events=...)`)."""
        group = cls.__new__(cls)
        made = cls._engine_class.from_connections(
            [c._async for c in connections], events=events, journal=journal, **limits
        )
        group._adopt(made)
        return group

    @property
    def events(self) -> EventBus | None:
        """Where each call is recorded as a run (None: nothing is recorded)."""
        return self._async.events

    @property
    def connections(self) -> list[Connection]:
        """The group's connections."""
        return [Connection.twin(c) for c in self._async.connections]

    @property
    def last_result(self) -> GroupResult | None:
        """The result of the latest call, filled in as hosts finish (also after Ctrl-C)."""
        last = self._async.last_result
        return None if last is None else public(last)

    def __iter__(self) -> Iterator[Connection]:
        return iter(self.connections)

    def __len__(self) -> int:
        return len(self._async)

    def __getitem__(self, index: int) -> Connection:
        return Connection.twin(self._async[index])

    def __enter__(self) -> Group:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every host's connection."""
        return call(self._async.close)

    def apply(
        self, function: Callable[[Connection], Any], **limits: Unpack[engine.GroupKwargs]
    ) -> GroupResult:
        """Call `function(connection)` for every host, under the group's limits.

        The function blocks (it may call the connection's methods), so each host in flight
        has a worker thread; the GroupResult maps each host to its return value or error.
        """
        concurrency = int(limits.get("concurrency") or self._async.policy.concurrency)
        workers = ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(self._async))))

        async def one(conn: AsyncConnection) -> Any:
            loop = asyncio.get_running_loop()
            try:
                return await loop.run_in_executor(workers, function, Connection.twin(conn))
            except asyncio.CancelledError:
                # Ctrl-C: the function's thread goes on; stop what it runs, refuse new calls
                conn.interrupt()
                raise

        try:
            return call(self._async.apply, one, **limits)
        finally:
            workers.shutdown(wait=False)

    def run(self, command: Command, **kwargs: Unpack[engine.GroupRunKwargs]) -> GroupResult:
        """Run a command on every host; raise GroupException if any host failed."""
        return call(self._async.run, command, **kwargs)

    def sudo(
        self,
        command: Command,
        user: str | None = None,
        password: str | None = None,
        **kwargs: Unpack[engine.GroupRunKwargs],
    ) -> GroupResult:
        """Run a command through sudo on every host (one password for all)."""
        return call(self._async.sudo, command, user, password, **kwargs)

    def facts(self, refresh: bool = False, **limits: Unpack[engine.GroupKwargs]) -> GroupResult:
        """Gather every host's facts, one round trip each; the GroupResult maps host -> Facts."""
        return call(self._async.facts, refresh, **limits)

    def put(
        self,
        local: LocalPath | IO[bytes],
        remote: str | None = None,
        preserve_mode: bool = True,
        **kwargs: Unpack[engine.GroupPutKwargs],
    ) -> GroupResult:
        """Upload a file (or tree) to every host."""
        return call(self._async.put, local, remote, preserve_mode, **kwargs)

    def get(
        self,
        remote: str,
        local: str = "{host}/",
        preserve_mode: bool = True,
        **kwargs: Unpack[engine.GroupGetKwargs],
    ) -> GroupResult:
        """Download a file from every host; `local` must separate hosts, e.g. "{host}/"."""
        return call(self._async.get, remote, local, preserve_mode, **kwargs)


class SerialGroup(Group, core=engine.SerialGroup):
    """A Group that runs one host at a time, in order."""

    _engine_class = engine.SerialGroup


class ThreadingGroup(Group, core=engine.ThreadingGroup):
    """Fabric's name for a concurrent group; corral runs it on the async engine, not threads."""

    _engine_class = engine.ThreadingGroup
