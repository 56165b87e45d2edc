"""file, template, directory, symlink and absent against real sshd: each applied three times
(changes; then unchanged with no changing command; then check mode on a drifted host reports
the change and leaves the host as it was), plus owners, modes, backups, diffs and events."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

import corral.aio
from corral import Secret
from corral.aio import ops
from corral.errors import ContentRejectedError, OperationFailed, RenderError, StateConflictError
from corral.events import Event, OperationResult
from corral.testing.fleet import SSHDFleet

from .conftest import event_bus, give, three_runs


def listing(directory: Path) -> list[str]:
    """The names in a directory, sorted."""
    return sorted(os.listdir(directory))


def snapshot(path: Path) -> tuple[Any, ...]:
    """What a path is: kind, mode, owner, group, content (or link target)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return ("absent",)
    kind = "link" if stat.S_ISLNK(info.st_mode) else "dir" if stat.S_ISDIR(info.st_mode) else "file"
    extra: Any = None
    if kind == "file":
        extra = path.read_bytes()
    elif kind == "link":
        extra = os.readlink(path)
    return (kind, stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, extra)


async def test_file_three_runs(
    c: corral.aio.Connection, checking: corral.aio.Connection, workdir: Path
) -> None:
    target = workdir / "app.conf"

    async def apply(conn: corral.aio.Connection) -> ops.OpResult:
        return await ops.file(conn, str(target), content="port = 80\n", mode=0o640)

    first, second, third = await three_runs(
        c, checking, apply, lambda: snapshot(target), lambda: target.write_text("port = 81\n")
    )
    assert first.message == "create"
    assert snapshot(target)[4] == b"port = 81\n"  # check mode left the drift alone
    assert third.message == "would change content"
    assert third.diff is not None and "-port = 81\n+port = 80\n" in third.diff
    assert second.probes == (f"stat {target}",)  # unchanged: one probe, one round trip


async def test_file_mode_owner_and_group_are_set_with_sudo(
    c: corral.aio.Connection, checking: corral.aio.Connection, workdir: Path
) -> None:
    target = workdir / "root-owned"

    async def apply(conn: corral.aio.Connection) -> ops.OpResult:
        return await ops.file(
            conn, str(target), content=b"\x00binary\xff", owner="root", group="daemon",
            mode="0600", sudo=True,
        )  # fmt: skip

    *_, third = await three_runs(
        c, checking, apply, lambda: snapshot(target), lambda: os.chmod(target, 0o644)
    )
    assert third.message == "would mode 644 -> 600"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o644  # check mode left the drift
    fixed = await apply(c)
    assert fixed.changed and fixed.message == "mode 644 -> 600"
    info = os.stat(target)
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (0, 1, 0o600)
    assert target.read_bytes() == b"\x00binary\xff"


async def test_file_without_sudo_cannot_chown_and_says_how(
    c: corral.aio.Connection, workdir: Path
) -> None:
    target = workdir / "mine"
    target.write_text("x")
    os.chown(target, os.stat(workdir).st_uid, os.stat(workdir).st_gid)
    with pytest.raises(OperationFailed) as caught:
        await ops.file(c, str(target), owner="root")
    assert "pass sudo=True" in str(caught.value) and caught.value.argument == "owner"
    assert os.stat(target).st_uid != 0


async def test_file_from_a_local_source_and_a_backup(
    c: corral.aio.Connection, workdir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "motd"
    source.write_text("hello\n")
    target = workdir / "motd"
    target.write_text("old\n")
    result = await ops.file(c, str(target), src=source, backup=True)
    assert result.changed and "backup " in result.message
    assert target.read_text() == "hello\n"
    backups = [n for n in listing(workdir) if n.startswith("motd.") and n.endswith("~")]
    assert len(backups) == 1 and (workdir / backups[0]).read_text() == "old\n"


async def test_file_follows_a_symlink_and_writes_the_file_it_points_to(
    c: corral.aio.Connection, workdir: Path
) -> None:
    (workdir / "real").write_text("a\n")
    (workdir / "link").symlink_to("real")
    result = await ops.file(c, str(workdir / "link"), content="b\n")
    assert result.changed
    assert os.readlink(workdir / "link") == "real" and (workdir / "real").read_text() == "b\n"


async def test_file_touches_an_empty_file_when_no_content_is_given(
    c: corral.aio.Connection, workdir: Path
) -> None:
    target = workdir / "stamp"
    assert (await ops.file(c, str(target))).changed
    assert target.read_bytes() == b""
    target.write_text("kept")
    assert not (await ops.file(c, str(target))).changed  # content is not managed
    assert target.read_text() == "kept"


async def test_a_secret_content_is_masked_in_the_diff_and_event(
    c: corral.aio.Connection, workdir: Path
) -> None:
    events: list[Event] = []
    c.events = event_bus(events)
    c.run_id = "run-1"
    target = workdir / "token"
    result = await ops.file(c, str(target), content=Secret("s3cr3t-value\n"), mode=0o600)
    assert target.read_text() == "s3cr3t-value\n"
    assert result.diff is not None and "s3cr3t" not in result.diff and "****" in result.diff
    [event] = events
    assert isinstance(event, OperationResult) and event.run_id == "run-1"
    assert event.operation == f"file {target}" and event.changed and "s3cr3t" not in str(event)


async def test_diff_mode_prints_the_diff_and_summarises_binary_files(
    fleet: SSHDFleet, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ..conftest import fleet_config

    config = fleet_config(fleet, run={"diff": True})
    async with corral.aio.Connection(fleet.hosts[0].alias, config=config) as c:
        (workdir / "t").write_text("one\ntwo\n")
        await ops.file(c, str(workdir / "t"), content="one\nthree\n")
        await ops.file(c, str(workdir / "b"), content=b"\x00\x01")
    out = capsys.readouterr().out
    assert f"--- {fleet.hosts[0].alias}:{workdir}/t (before)" in out
    assert "-two\n+three\n" in out
    assert f"Binary file {fleet.hosts[0].alias}:{workdir}/b differs: absent -> 2 bytes" in out


async def test_template_three_runs_with_host_vars_facts_and_validate(
    fleet: SSHDFleet, c: corral.aio.Connection, checking: corral.aio.Connection,
    workdir: Path, tmp_path: Path,
) -> None:  # fmt: skip
    source = tmp_path / "app.conf.j2"
    source.write_text(
        "host={{ facts.hostname }}\nreplicas={{ replicas }}\npassword={{ password }}\n"
    )
    target = workdir / "app.conf"

    async def apply(conn: corral.aio.Connection) -> ops.OpResult:
        return await ops.template(
            conn, source, str(target), {"replicas": 3, "password": Secret("pw-123")},
            validate="grep -q '^replicas=[0-9]' {path}", mode=0o600,
        )  # fmt: skip

    first, _, third = await three_runs(
        c, checking, apply, lambda: snapshot(target),
        lambda: target.write_text(target.read_text().replace("replicas=3", "replicas=4")),
    )  # fmt: skip
    assert target.read_text() == f"host={os.uname().nodename}\nreplicas=4\npassword=pw-123\n"
    assert first.diff is not None and "pw-123" not in first.diff and "password=****" in first.diff
    assert "validate not run in check mode" in third.message


async def test_a_template_the_validator_rejects_never_lands(
    c: corral.aio.Connection, workdir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "t.j2"
    source.write_text("replicas={{ n }}\n")
    target = workdir / "app.conf"
    target.write_text("replicas=1\n")
    with pytest.raises(ContentRejectedError) as caught:
        await ops.template(c, source, str(target), {"n": "x"}, validate="grep -q '=[0-9]' {path}")
    error = caught.value
    assert error.host == c.original_host and error.operation == "template"
    assert error.argument == "validate" and "left as it was" in str(error)
    assert target.read_text() == "replicas=1\n"
    assert listing(workdir) == ["app.conf"]  # no temp file left


async def test_a_template_with_an_undefined_variable_is_refused_before_anything_runs(
    c: corral.aio.Connection, workdir: Path, tmp_path: Path
) -> None:
    source = tmp_path / "t.j2"
    source.write_text("a={{ missing_var }}\n")
    with pytest.raises(RenderError) as caught:
        await ops.template(c, source, str(workdir / "x"))
    assert caught.value.argument == "context" and "missing_var" in str(caught.value)
    assert str(caught.value).startswith(f"{c.original_host}: template(context=...): ")
    assert listing(workdir) == []


async def test_directory_three_runs(
    c: corral.aio.Connection, checking: corral.aio.Connection, workdir: Path
) -> None:
    target = workdir / "a" / "b"

    async def apply(conn: corral.aio.Connection) -> ops.OpResult:
        return await ops.directory(conn, str(target), mode=0o750)

    await three_runs(c, checking, apply, lambda: snapshot(target), lambda: target.chmod(0o755))
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o755


async def test_symlink_three_runs_switches_atomically(
    c: corral.aio.Connection, checking: corral.aio.Connection, workdir: Path
) -> None:
    (workdir / "r1").mkdir()
    (workdir / "r2").mkdir()
    link = workdir / "current"

    async def apply(conn: corral.aio.Connection) -> ops.OpResult:
        return await ops.symlink(conn, str(link), "r2")

    def drift() -> None:
        link.unlink()
        link.symlink_to("r1")

    await three_runs(c, checking, apply, lambda: snapshot(link), drift)
    assert os.readlink(link) == "r1"
    assert (await ops.symlink(c, str(link), "r2")).message == "retarget r1 -> r2"
    assert listing(workdir) == ["current", "r1", "r2"]


async def test_symlink_never_replaces_a_directory_nor_a_file_without_force(
    c: corral.aio.Connection, workdir: Path
) -> None:
    (workdir / "d").mkdir()
    (workdir / "f").write_text("keep")
    with pytest.raises(StateConflictError) as caught:
        await ops.symlink(c, str(workdir / "d"), "x")
    assert caught.value.argument == "path" and "is a directory" in str(caught.value)
    with pytest.raises(StateConflictError):
        await ops.symlink(c, str(workdir / "f"), "x")
    assert (workdir / "f").read_text() == "keep"
    assert (await ops.symlink(c, str(workdir / "f"), "x", force=True)).changed
    assert os.readlink(workdir / "f") == "x"


async def test_absent_three_runs(
    fleet: SSHDFleet, c: corral.aio.Connection, checking: corral.aio.Connection, workdir: Path
) -> None:
    target = workdir / "tree"
    (target / "sub").mkdir(parents=True)
    (target / "sub" / "f").write_text("x")
    give(fleet, target)

    async def apply(conn: corral.aio.Connection) -> ops.OpResult:
        return await ops.absent(conn, str(target))

    def drift() -> None:
        target.mkdir()

    await three_runs(c, checking, apply, lambda: snapshot(target), drift)
    assert target.is_dir()


async def test_a_directory_where_a_file_goes_is_a_typed_error_and_nothing_is_written(
    c: corral.aio.Connection, checking: corral.aio.Connection, workdir: Path
) -> None:
    (workdir / "conf").mkdir()
    for conn in (c, checking):
        with pytest.raises(StateConflictError) as caught:
            await ops.file(conn, str(workdir / "conf"), content="x")
        error = caught.value
        assert (error.host, error.operation, error.argument) == (c.original_host, "file", "path")
        assert "is a directory, where a file is expected" in str(error)
    assert listing(workdir) == ["conf"]


async def test_a_missing_parent_directory_is_a_typed_error(
    c: corral.aio.Connection, workdir: Path
) -> None:
    with pytest.raises(StateConflictError) as caught:
        await ops.file(c, str(workdir / "no" / "such" / "f"), content="x")
    assert "does not exist; create it first (ops.directory)" in str(caught.value)


async def test_sync_twins_take_the_blocking_connection(fleet: SSHDFleet, workdir: Path) -> None:
    import asyncio

    import corral
    from corral import ops as blocking

    from ..conftest import fleet_config

    def work() -> list[bool]:
        with corral.Connection(fleet.hosts[0].alias, config=fleet_config(fleet)) as conn:
            first = blocking.file(conn, str(workdir / "s"), content="x")
            second = blocking.file(conn, str(workdir / "s"), content="x")
            return [first.changed, second.changed]

    assert await asyncio.to_thread(work) == [True, False]
