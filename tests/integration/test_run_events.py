"""Runs from the API emit their events, against real sshd: a `Group` given a bus or a journal
records each call as a run; an `Executor` records one run for its calls, host by host or
through the group engine; neither records anything when given neither."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import corral.aio
from corral import Config, Group, GroupException, task
from corral.events import (
    Event,
    EventBus,
    HostFinished,
    HostStarted,
    OutputLine,
    RunFinished,
    RunStarted,
)
from corral.journal import Journal, JournalSettings
from corral.tasks.collection import Collection
from corral.tasks.executor import Executor
from corral.testing.fleet import SSHDFleet

ADDRESS = "$(echo $SSH_CONNECTION | cut -d' ' -f3)"


def _recorded() -> tuple[EventBus, list[Event]]:
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append)
    return bus, seen


def _of(events: list[Event], kind: type[Event]) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def test_a_group_with_a_bus_records_each_call_as_a_run(fleet: SSHDFleet, config: Config) -> None:
    bus, seen = _recorded()
    aliases = [h.alias for h in fleet.hosts]
    with Group(*aliases, config=config, events=bus) as group:
        group.run(f"echo at {ADDRESS}; echo note >&2", hide=True)
        bad = fleet.hosts[1].address
        with pytest.raises(GroupException) as failed:
            group.run(f'[ "{ADDRESS}" != {bad} ] || exit 9')
    first, second = _of(seen, RunStarted)
    assert first.command == f"echo at {ADDRESS}; echo note >&2" and first.hosts == tuple(aliases)
    assert first.run_id != second.run_id
    lines = [(e.host, e.stream, e.text, e.hidden) for e in _of(seen, OutputLine)]
    for host in fleet.hosts:
        assert (host.alias, "stdout", f"at {host.address}", True) in lines  # hidden: recorded
        assert (host.alias, "stderr", "note", True) in lines
    finished = [e for e in _of(seen, HostFinished) if e.run_id == second.run_id]
    assert {e.host: e.status for e in finished} == {
        aliases[0]: "ok", aliases[1]: "failed", aliases[2]: "ok"
    }  # fmt: skip
    assert next(e for e in finished if e.status == "failed").exit_code == 9
    ends = _of(seen, RunFinished)
    assert [e.exit_status for e in ends] == [0, failed.value.exit_code] == [0, 9]
    assert ends[1].counts == {"ok": 2, "failed": 1, "skipped": 0, "interrupted": 0}
    for run in (first, second):  # every host's line comes between its start and its end
        mine = [e for e in seen if e.run_id == run.run_id]
        assert isinstance(mine[0], RunStarted) and isinstance(mine[-1], RunFinished)


def test_a_group_given_a_journal_writes_its_runs_and_one_without_records_nothing(
    fleet: SSHDFleet, config: Config, tmp_path: Path
) -> None:
    path = tmp_path / "journal.db"
    journal = Journal(JournalSettings(path=path))
    with Group(*(h.alias for h in fleet.hosts), config=config, journal=journal) as group:
        group.run("echo recorded", hide=True)
    journal.close()
    with Group(*(h.alias for h in fleet.hosts), config=config) as plain:
        assert plain.events is None
        plain.run("echo not recorded", hide=True)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT what, status, n_ok FROM runs").fetchall() == [
            ("echo recorded", "ok", 3)
        ]
        outputs = db.execute("SELECT output FROM run_hosts").fetchall()
    assert outputs == [('[["stdout", "recorded"]]',)] * 3


def test_an_aio_group_records_and_tells_its_connections_where_operations_report(
    fleet: SSHDFleet, config: Config
) -> None:
    bus, seen = _recorded()
    noticed: list[tuple[object, object]] = []

    async def main() -> None:
        async with corral.aio.Group(*(h.alias for h in fleet.hosts), config=config) as group:
            group.events = bus

            async def look(c: corral.aio.Connection) -> str:
                noticed.append((c.events, c.run_id))  # where issue 13's operations report
                return (await c.run("echo looked", hide=True)).stdout

            await group.apply(look)
            assert all(c.events is None and c.run_id is None for c in group)  # after the call

    asyncio.run(main())
    (run,) = _of(seen, RunStarted)
    assert run.command == "apply look"
    assert noticed == [(bus, run.run_id)] * 3
    assert len(_of(seen, OutputLine)) == 3


COLLECTION = Collection()


@task
def announce(c: Any, word: str = "hello") -> str:
    c.run(f"echo {word} from {ADDRESS}")
    return str(c.original_host)


@task
def fails_on_second(c: Any, bad: str = "") -> None:
    if c.original_host == bad:
        c.run("echo broken >&2; exit 4")


COLLECTION.add_task(announce)
COLLECTION.add_task(fails_on_second)


@pytest.mark.parametrize("group", [None, {"concurrency": 8}], ids=["serial", "group"])
def test_an_executor_records_its_calls_as_one_run(
    fleet: SSHDFleet, config: Config, group: dict[str, Any] | None
) -> None:
    bus, seen = _recorded()
    aliases = [h.alias for h in fleet.hosts]
    with Executor(COLLECTION, config, aliases, group=group, events=bus) as executor:
        executor.execute(("announce", {"word": "hi"}))
        with pytest.raises(Exception):  # noqa: B017 - UnexpectedExit, or a GroupException
            executor.execute("announce", ("fails-on-second", {"bad": aliases[1]}))
    one, two = _of(seen, RunStarted)
    assert one.tasks == ("announce",) and one.hosts == tuple(aliases) and one.command is None
    assert two.tasks == ("announce", "fails-on-second")
    lines = [(e.host, e.text) for e in _of(seen, OutputLine) if e.run_id == one.run_id]
    assert sorted(lines) == sorted((h.alias, f"hi from {h.address}") for h in fleet.hosts)
    started = [e.host for e in _of(seen, HostStarted) if e.run_id == one.run_id]
    assert started == aliases if group is None else sorted(started) == sorted(aliases)
    ends = {e.run_id: e for e in _of(seen, RunFinished)}
    assert ends[one.run_id].exit_status == 0 and ends[two.run_id].exit_status == 4
    last = {
        e.host: (e.status, e.task)
        for e in _of(seen, HostFinished)
        if e.run_id == two.run_id and e.task == "fails-on-second"
    }
    if group is None:  # host by host: the run stops at the failure
        assert last == {
            aliases[0]: ("ok", "fails-on-second"),
            aliases[1]: ("failed", "fails-on-second"),
            aliases[2]: ("skipped", "fails-on-second"),
        }
    else:
        assert last == {
            aliases[0]: ("ok", "fails-on-second"),
            aliases[1]: ("failed", "fails-on-second"),
            aliases[2]: ("ok", "fails-on-second"),
        }


def test_an_executor_without_a_bus_records_nothing(fleet: SSHDFleet, config: Config) -> None:
    with Executor(COLLECTION, config, [fleet.hosts[0].alias]) as executor:
        assert executor.events is None
        assert executor.execute("announce") == {"announce": {fleet.hosts[0].alias: "host1"}}
        assert executor.recorder is None
