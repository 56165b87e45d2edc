"""Fixtures of the operation tests: connections to the real-sshd fleet (whose hosts are this
machine, so what an operation did is read straight from it), one with check mode on, a
private working directory, and `three_runs`, the pattern every operation is tested with."""

from __future__ import annotations

import os
import pwd
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

import corral.aio
from corral import Config, OpResult
from corral.events import Event, EventBus
from corral.testing.fleet import SSHDFleet

from ..conftest import fleet_config

Apply = Callable[[corral.aio.Connection], Awaitable[OpResult]]


@pytest.fixture
def config(fleet: SSHDFleet) -> Config:
    """The fleet's ssh_config, and the login user's sudo password."""
    return fleet_config(fleet, sudo={"password": fleet.password})


@pytest.fixture
def check_config(fleet: SSHDFleet) -> Config:
    """As `config`, in check mode (what `corral --check` sets)."""
    return fleet_config(fleet, sudo={"password": fleet.password}, run={"check": True})


@pytest.fixture
async def c(fleet: SSHDFleet, config: Config) -> AsyncIterator[corral.aio.Connection]:
    async with corral.aio.Connection(fleet.hosts[0].alias, config=config) as conn:
        yield conn


@pytest.fixture
async def checking(fleet: SSHDFleet, check_config: Config) -> AsyncIterator[corral.aio.Connection]:
    """A connection in check mode (config run.check, as `corral --check`)."""
    async with corral.aio.Connection(fleet.hosts[0].alias, config=check_config) as conn:
        yield conn


@pytest.fixture
def events() -> Iterator[list[Event]]:
    """The events an operation emits (set `conn.events = bus` with `bus` from here)."""
    yield []


def event_bus(into: list[Event]) -> EventBus:
    """Return an EventBus that appends every event to `into`."""
    bus = EventBus()
    bus.subscribe(into.append)
    return bus


@pytest.fixture
def workdir(fleet: SSHDFleet) -> Iterator[Path]:
    """A fresh directory in /tmp owned by the fleet's login user; removed afterwards."""
    path = Path("/tmp") / f"corral-ops-{uuid.uuid4().hex[:10]}"
    path.mkdir(mode=0o755)
    entry = pwd.getpwnam(fleet.user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def give(fleet: SSHDFleet, path: Path) -> None:
    """Make a path (a whole tree) the fleet login user's, as if it had made it."""
    entry = pwd.getpwnam(fleet.user)
    for where, dirs, files in os.walk(path):
        for name in [where, *(os.path.join(where, n) for n in dirs + files)]:
            os.lchown(name, entry.pw_uid, entry.pw_gid)


async def three_runs(
    c: corral.aio.Connection,
    checking: corral.aio.Connection,
    apply: Apply,
    read: Callable[[], Any],
    drift: Callable[[], Any],
) -> tuple[OpResult, OpResult, OpResult]:
    """Apply an operation three times, as the issue asks of every operation.

    1. It changes the host (and says so, with the commands it ran);
    2. run again it reports unchanged and runs no changing command, and the host is as the
       first run left it;
    3. after `drift()` changed the host, in check mode it reports the change, with the
       commands it would run, and the host is left as the drift made it (read back).
    """
    first = await apply(c)
    assert first.ok and first.changed, first
    assert first.commands and not first.checked, first
    after_first = read()
    second = await apply(c)
    assert second.ok and not second.changed, second
    assert second.commands == (), second
    assert read() == after_first
    drift()
    drifted = read()
    assert drifted != after_first, "the drift changed nothing: the third run proves nothing"
    third = await apply(checking)
    assert third.ok and third.changed and third.checked, third
    assert third.commands, third
    assert read() == drifted
    return first, second, third
