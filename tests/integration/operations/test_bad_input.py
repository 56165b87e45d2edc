"""The issue's bad input, each case in normal and in check mode: a typed error naming the
host, the operation and the argument; no half-written file; nothing changed on the host."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

import corral.aio
from corral.aio import ops
from corral.errors import (
    OperationArgumentError,
    OperationError,
    PackageManagerError,
    RenderError,
    ServiceNotFoundError,
    StateConflictError,
)

Case = Callable[[corral.aio.Connection, Path], Awaitable[object]]


async def contradictory(c: corral.aio.Connection, where: Path) -> object:
    return await ops.file(c, str(where / "f"), content="a", src=str(where / "x"))


async def undefined_variable(c: corral.aio.Connection, where: Path) -> object:
    template = where.parent / f"{where.name}.j2"
    template.write_text("port={{ port }}\n")
    try:
        return await ops.template(c, template, str(where / "app.conf"), {"prot": 80})
    finally:
        template.unlink()


async def missing_manager(c: corral.aio.Connection, where: Path) -> object:
    return await ops.package(c, "bash", manager="apk")


async def unknown_service(c: corral.aio.Connection, where: Path) -> object:
    return await ops.service(c, "corral-no-such-service", state="started")


async def directory_for_a_file(c: corral.aio.Connection, where: Path) -> object:
    return await ops.file(c, str(where / "conf.d"), content="x")


CASES: list[tuple[Case, type[OperationError], str, str]] = [
    (contradictory, OperationArgumentError, "file", "src"),
    (undefined_variable, RenderError, "template", "context"),
    (missing_manager, PackageManagerError, "package", "manager"),
    (unknown_service, ServiceNotFoundError, "service", "name"),
    (directory_for_a_file, StateConflictError, "file", "path"),
]


def tree(root: Path) -> list[tuple[str, bytes | None]]:
    found = []
    for where, dirs, files in os.walk(root):
        for name in sorted(dirs + files):
            path = Path(where, name)
            found.append(
                (str(path.relative_to(root)), path.read_bytes() if path.is_file() else None)
            )
    return sorted(found)


@pytest.mark.parametrize("checking_mode", [False, True], ids=["apply", "check"])
@pytest.mark.parametrize(("case", "kind", "operation", "argument"), CASES)
async def test_bad_input_is_a_typed_error_naming_host_operation_and_argument(
    c: corral.aio.Connection,
    checking: corral.aio.Connection,
    workdir: Path,
    case: Case,
    kind: type[OperationError],
    operation: str,
    argument: str,
    checking_mode: bool,
) -> None:
    (workdir / "conf.d").mkdir()
    (workdir / "conf.d" / "keep.conf").write_text("kept\n")
    (workdir / "f").write_text("old\n")  # files the operations would replace stay whole
    (workdir / "app.conf").write_text("port=1\n")
    before = tree(workdir)
    conn = checking if checking_mode else c
    with pytest.raises(kind) as caught:
        await case(conn, workdir)
    error = caught.value
    assert (error.host, error.operation, error.argument) == (c.original_host, operation, argument)
    assert str(error).startswith(f"{c.original_host}: {operation}({argument}=...): ")
    assert tree(workdir) == before  # nothing written, nothing replaced, no temp file left
