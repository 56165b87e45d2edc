"""Guards (`creates=`, `unless=`, `onlyif=`) on run and sudo, the check-mode gate for plain
commands and transfers, and handlers that run once per host after a change."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import corral
import corral.aio
from corral import Config
from corral.aio import ops
from corral.events import Event, OperationResult
from corral.testing.fleet import SSHDFleet

from ..conftest import fleet_config
from .conftest import event_bus


async def test_creates_runs_a_command_once(c: corral.aio.Connection, workdir: Path) -> None:
    events: list[Event] = []
    c.events = event_bus(events)
    done = workdir / "done"
    command = f"echo ran >> {workdir}/log && touch {done}"
    first = await c.run(command, creates=str(done))
    second = await c.run(command, creates=str(done))
    assert first.skipped_by is None and first.ok
    assert second.skipped_by == f"creates={str(done)!r} exists" and second.ok
    assert (workdir / "log").read_text() == "ran\n"
    assert [(e.changed, e.message) for e in events if isinstance(e, OperationResult)] == [
        (True, "ran (exit status 0)"),
        (False, f"skipped: creates={str(done)!r} exists"),
    ]


async def test_unless_and_onlyif_decide_with_a_command(
    c: corral.aio.Connection, workdir: Path
) -> None:
    log = workdir / "log"
    assert (await c.run(f"echo a >> {log}", unless="false")).skipped_by is None
    assert (await c.run(f"echo b >> {log}", unless="true")).skipped_by == "unless='true' succeeded"
    assert (await c.run(f"echo c >> {log}", onlyif="true")).skipped_by is None
    skipped = await c.run(f"echo d >> {log}", onlyif=["test", "-e", "/no/such"])
    assert skipped.skipped_by == "onlyif='test -e /no/such' failed (status 1)"
    assert log.read_text() == "a\nc\n"
    with c.cd(str(workdir)):  # the guard runs where the command runs
        assert (await c.run("echo e >> log", creates="log")).skipped_by is not None


async def test_guards_run_through_sudo_with_the_command(
    c: corral.aio.Connection, workdir: Path
) -> None:
    secret = workdir / "root-only"
    await c.sudo(f"mkdir -m 700 {secret}")
    first = await c.sudo(f"touch {secret}/x", creates=f"{secret}/x")
    again = await c.sudo(f"touch {secret}/x", creates=f"{secret}/x")
    assert first.skipped_by is None and again.skipped_by is not None


async def test_check_mode_holds_plain_commands_and_transfers_but_reads_guards(
    checking: corral.aio.Connection, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = workdir / "made"
    held = await checking.run(f"touch {marker}")
    assert held.ok and not marker.exists()
    guarded = await checking.run(f"touch {marker}", creates=str(workdir))  # read in check mode
    assert guarded.skipped_by == f"creates={str(workdir)!r} exists"
    await checking.put(__file__, str(workdir / "copy.py"))
    probe = await checking.probe(["ls", str(workdir)])
    assert probe.ok and probe.stdout == ""  # a probe runs (and sees an empty directory)
    out = capsys.readouterr().out
    host = checking.original_host
    assert f"[{host}] would run: touch {marker}\n" in out
    assert f"[{host}] would put {__file__} -> {workdir}/copy.py\n" in out
    assert f"touch {marker}" in out and os.listdir(workdir) == []


def test_local_commands_take_guards_too(tmp_path: Path) -> None:
    c = corral.Context()
    done = tmp_path / "done"
    assert c.run(f"touch {done}", creates=str(done)).skipped_by is None
    assert c.run(f"touch {done}", creates=str(done)).skipped_by is not None
    held = corral.Context(Config(overrides={"run": {"check": True}}))
    assert held.run(f"rm {done}", hide=True).ok and done.exists()


async def test_a_handler_runs_once_after_several_changes_and_not_without_one(
    c: corral.aio.Connection, workdir: Path
) -> None:
    calls: list[str] = []

    @ops.handler
    async def restart(conn: corral.aio.Connection) -> str:
        calls.append(conn.original_host)
        return "restarted"

    async with ops.handlers(c):
        await ops.file(c, str(workdir / "a"), content="1", notify=restart)
        await ops.file(c, str(workdir / "b"), content="2", notify=[restart])
        assert restart.is_pending(c)
    assert calls == [c.original_host]  # two changes, one run
    async with ops.handlers(c):
        await ops.file(c, str(workdir / "a"), content="1", notify=restart)  # unchanged
    assert calls == [c.original_host]
    with pytest.raises(RuntimeError):  # a failed block leaves the handler pending, not run
        async with ops.handlers(c):
            await ops.file(c, str(workdir / "a"), content="3", notify=restart)
            raise RuntimeError("a task failed")
    assert calls == [c.original_host] and restart.is_pending(c)
    assert await ops.flush_handlers(c) == ["restarted"]
    assert len(calls) == 2


async def test_a_handler_notified_in_check_mode_is_reported_not_run(
    checking: corral.aio.Connection, workdir: Path
) -> None:
    calls: list[str] = []
    restart = ops.Handler(lambda conn: calls.append("ran"), name="restart app")
    await ops.file(checking, str(workdir / "a"), content="1", notify=restart)
    [report] = await ops.flush_handlers(checking)
    assert isinstance(report, ops.OpResult) and report.checked and report.message == "would run"
    assert calls == [] and report.target == "restart app"


def test_blocking_handlers_run_in_the_callers_thread(fleet: SSHDFleet, workdir: Path) -> None:
    from corral import ops as blocking

    calls: list[str] = []

    @blocking.handler(name="reload")
    def reload(conn: corral.Connection) -> None:
        conn.run("true")
        calls.append("reload")

    with corral.Connection(fleet.hosts[0].alias, config=fleet_config(fleet)) as c:
        with blocking.handlers(c):
            blocking.file(c, str(workdir / "x"), content="x", notify=reload)
            blocking.file(c, str(workdir / "y"), content="y", notify=reload)
    assert calls == ["reload"]


async def test_operations_on_a_group_report_per_host(fleet: SSHDFleet, workdir: Path) -> None:
    config = fleet_config(fleet)
    group = corral.aio.Group(*(h.alias for h in fleet.hosts), config=config)
    async with group:
        results = await group.apply(
            lambda conn: ops.file(conn, f"{workdir}/{conn.original_host}", content="x")
        )
    assert sorted(r.host for r in results.values()) == sorted(h.alias for h in fleet.hosts)
    assert all(r.changed for r in results.values())
