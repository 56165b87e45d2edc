"""Blocking `Group`, `SerialGroup` and `ThreadingGroup`: each method one call onto the portal."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..remote import group as engine
from ..remote.connection import Connection as AsyncConnection
from ..result import GroupResult
from ..runner.command import Command
from ..runner.options import Unpack
from .connection import Connection
from .portal import portal


class Group:
    """Many hosts: run, sudo, put and get on all of them at once, under limits."""

    _engine_class: type[engine.Group] = engine.Group

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
        connections = [Connection(h, **connection_kwargs) for h in hosts]
        self._async = self._engine_class.from_connections(
            [c._async for c in connections],
            concurrency=concurrency,
            batch_size=batch_size,
            max_failures=max_failures,
            fail_fast=fail_fast,
            host_timeout=host_timeout,
            connect_retries=connect_retries,
        )

    @classmethod
    def from_connections(cls, connections: Sequence[Connection], **limits: Any) -> Group:
        """Make a group of existing connections."""
        group = cls(**limits)
        group._async.connections = [c._async for c in connections]
        return group

    @property
    def connections(self) -> list[Connection]:
        """The group's connections."""
        return [Connection._facade(c) for c in self._async.connections]

    @property
    def last_result(self) -> GroupResult | None:
        """The result of the latest call, filled in as hosts finish (also after Ctrl-C)."""
        return self._async.last_result

    def __iter__(self) -> Iterator[Connection]:
        return iter(self.connections)

    def __len__(self) -> int:
        return len(self._async)

    def __getitem__(self, index: int) -> Connection:
        return Connection._facade(self._async[index])

    def __enter__(self) -> Group:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every host's connection."""
        return portal.call(self._async.close)

    def apply(
        self, function: Callable[[Connection], Any], **limits: Unpack[engine.GroupKwargs]
    ) -> GroupResult:
        """Call `function(connection)` for every host, under the group's limits.

        The function blocks (it may call the connection's methods), so each host in flight
        has a worker thread; the GroupResult maps each host to its return value or error.
        """
        concurrency = int(limits.get("concurrency") or self._async.policy.concurrency)
        workers = ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(self._async))))

        async def call(conn: AsyncConnection) -> Any:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(workers, function, Connection._facade(conn))

        try:
            return portal.call(self._async.apply, call, **limits)
        finally:
            workers.shutdown(wait=False)

    def run(self, command: Command, **kwargs: Unpack[engine.GroupRunKwargs]) -> GroupResult:
        """Run a command on every host; raise GroupException if any host failed."""
        return portal.call(self._async.run, command, **kwargs)

    def sudo(
        self,
        command: Command,
        user: str | None = None,
        password: str | None = None,
        **kwargs: Unpack[engine.GroupRunKwargs],
    ) -> GroupResult:
        """Run a command through sudo on every host (one password for all)."""
        return portal.call(self._async.sudo, command, user, password, **kwargs)

    def facts(self, refresh: bool = False, **limits: Unpack[engine.GroupKwargs]) -> GroupResult:
        """Gather every host's facts, one round trip each; the GroupResult maps host -> Facts."""
        return portal.call(self._async.facts, refresh, **limits)

    def put(self, local: Any, remote: str | None = None, **kwargs: Any) -> GroupResult:
        """Upload a file (or tree) to every host."""
        return portal.call(self._async.put, local, remote, **kwargs)

    def get(self, remote: str, local: str = "{host}/", **kwargs: Any) -> GroupResult:
        """Download a file from every host; `local` must separate hosts, e.g. "{host}/"."""
        return portal.call(self._async.get, remote, local, **kwargs)


class SerialGroup(Group):
    """A Group that runs one host at a time, in order."""

    _engine_class = engine.SerialGroup


class ThreadingGroup(Group):
    """Fabric's name for a concurrent group; corral runs it on the async engine, not threads."""

    _engine_class = engine.ThreadingGroup
