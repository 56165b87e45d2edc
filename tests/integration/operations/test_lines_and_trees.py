"""line, block and copy_tree against real sshd, three times each, and their bad input."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest

import corral.aio
from corral.aio import ops
from corral.errors import OperationArgumentError, StateConflictError
from corral.testing.fleet import SSHDFleet

from .conftest import give, three_runs


async def test_line_three_runs(
    c: corral.aio.Connection, checking: corral.aio.Connection, workdir: Path
) -> None:
    target = workdir / "sshd_config"
    target.write_text("Port 22\n#PermitRootLogin yes\nX11Forwarding yes\n")

    async def apply(conn: corral.aio.Connection) -> ops.OpResult:
        return await ops.line(
            conn, str(target), "PermitRootLogin no", regexp=r"^#?PermitRootLogin\b"
        )

    first, _, third = await three_runs(
        c, checking, apply, target.read_text,
        lambda: target.write_text("Port 22\nPermitRootLogin yes\nX11Forwarding yes\n"),
    )  # fmt: skip
    assert first.message == "replace line 2"
    assert third.diff is not None and "-PermitRootLogin yes\n+PermitRootLogin no\n" in third.diff
    assert target.read_text() == "Port 22\nPermitRootLogin yes\nX11Forwarding yes\n"


async def test_line_inserts_after_an_anchor_and_removes_by_regexp(
    c: corral.aio.Connection, workdir: Path
) -> None:
    target = workdir / "app.ini"
    target.write_text("[main]\nkey=1\n[extra]\nkey=2\n")
    await ops.line(c, str(target), "debug=true", after=r"^\[main\]")
    assert target.read_text() == "[main]\ndebug=true\nkey=1\n[extra]\nkey=2\n"
    removed = await ops.line(c, str(target), state="absent", regexp="^key=")
    assert removed.message == "remove 2 lines"
    assert target.read_text() == "[main]\ndebug=true\n[extra]\n"
    assert not (await ops.line(c, str(target), state="absent", regexp="^key=")).changed


async def test_line_on_a_missing_file_needs_create(c: corral.aio.Connection, workdir: Path) -> None:
    target = workdir / "new.conf"
    with pytest.raises(StateConflictError) as caught:
        await ops.line(c, str(target), "a=1")
    assert "pass create=True" in str(caught.value)
    assert not target.exists()
    assert (await ops.line(c, str(target), "a=1", create=True, mode=0o600)).message == "create"
    assert target.read_text() == "a=1\n" and stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"line": "a", "after": "x", "before": "y"}, "before"),  # contradictory anchors
        ({"line": None}, "line"),  # present without a line
        ({"line": None, "state": "absent"}, "regexp"),
        ({"line": "a", "regexp": "(unclosed"}, "regexp"),
        ({"line": "two\nlines"}, "line"),
        ({"line": "a", "state": "gone"}, "state"),
        ({"line": "a", "mode": "rwx"}, "mode"),
    ],
)
async def test_bad_line_arguments_are_typed_errors_and_touch_nothing(
    c: corral.aio.Connection, workdir: Path, kwargs: dict[str, Any], argument: str
) -> None:
    target = workdir / "f"
    target.write_text("x\n")
    with pytest.raises(OperationArgumentError) as caught:
        await ops.line(c, str(target), **kwargs)
    error = caught.value
    assert (error.host, error.operation, error.argument) == (c.original_host, "line", argument)
    assert str(error).startswith(f"{c.original_host}: line({argument}=...): ")
    assert target.read_text() == "x\n"


async def test_block_three_runs(
    c: corral.aio.Connection, checking: corral.aio.Connection, workdir: Path
) -> None:
    target = workdir / "hosts"
    target.write_text("127.0.0.1 localhost\n")

    async def apply(conn: corral.aio.Connection) -> ops.OpResult:
        return await ops.block(conn, str(target), "10.0.0.1 db\n10.0.0.2 cache")

    def drift() -> None:
        target.write_text(target.read_text().replace("10.0.0.2", "10.0.0.9"))

    first, _, _ = await three_runs(c, checking, apply, target.read_text, drift)
    assert first.message == "insert block"
    assert "10.0.0.9 cache" in target.read_text()
    assert (await apply(c)).message == "update block"
    assert target.read_text() == (
        "127.0.0.1 localhost\n# BEGIN CORRAL MANAGED BLOCK\n10.0.0.1 db\n10.0.0.2 cache\n"
        "# END CORRAL MANAGED BLOCK\n"
    )
    assert (await ops.block(c, str(target), state="absent")).message == "remove block"
    assert target.read_text() == "127.0.0.1 localhost\n"


def tree_snapshot(root: Path) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for where, dirs, files in os.walk(root):
        for name in dirs + files:
            path = Path(where, name)
            info = os.lstat(path)
            rel = str(path.relative_to(root))
            if stat.S_ISLNK(info.st_mode):
                found[rel] = ("link", os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                found[rel] = ("dir", stat.S_IMODE(info.st_mode))
            else:
                found[rel] = ("file", stat.S_IMODE(info.st_mode), path.read_bytes())
    return found


async def test_copy_tree_three_runs_sends_only_what_changed(
    fleet: SSHDFleet, c: corral.aio.Connection, checking: corral.aio.Connection,
    workdir: Path, tmp_path: Path,
) -> None:  # fmt: skip
    source = tmp_path / "site"
    (source / "css").mkdir(parents=True)
    (source / "index.html").write_text("<h1>hi</h1>\n")
    (source / "css" / "a.css").write_text("body{}\n")
    (source / "run.sh").write_text("#!/bin/sh\n")
    (source / "run.sh").chmod(0o755)
    (source / "latest").symlink_to("index.html")
    (source / "skip.tmp").write_text("not copied")
    dest = workdir / "www"

    async def apply(conn: corral.aio.Connection) -> ops.OpResult:
        return await ops.copy_tree(conn, source, str(dest), delete=True, exclude=["*.tmp"])

    def drift() -> None:
        (dest / "css" / "a.css").write_text("body{color:red}\n")
        (dest / "stray").write_text("x")
        give(fleet, dest)

    first, _, third = await three_runs(c, checking, apply, lambda: tree_snapshot(dest), drift)
    assert first.message == "1 directory created, 4 files sent"
    assert third.message == "would 1 file sent, 1 deleted"
    assert third.diff is not None and "+body{}\n" in third.diff
    fixed = await apply(c)
    assert fixed.message == "1 file sent, 1 deleted"
    want = tree_snapshot(source)
    del want["skip.tmp"]
    assert tree_snapshot(dest) == want
    assert not any(p.name.startswith(".corral") for p in dest.iterdir())


async def test_copy_tree_refuses_a_file_where_the_directory_goes(
    c: corral.aio.Connection, workdir: Path, tmp_path: Path
) -> None:
    (workdir / "www").write_text("a file")
    with pytest.raises(StateConflictError) as caught:
        await ops.copy_tree(c, tmp_path, str(workdir / "www"))
    assert caught.value.argument == "dest"
    with pytest.raises(OperationArgumentError) as bad:
        await ops.copy_tree(c, tmp_path / "missing", str(workdir / "x"))
    assert bad.value.argument == "src"
