"""assert_type snippets for the public API, checked by mypy (never run): the sync twins
return plain values, the aio twins awaitables of the same, and both take the same options."""

from __future__ import annotations

import io
import sys
from typing import TYPE_CHECKING

import corral
import corral.aio
from corral import GroupResult, Result
from corral.result import RsyncResult, TransferResult
from corral.runners import Promise

if sys.version_info >= (3, 11):
    from typing import assert_type
else:  # pragma: no cover
    from typing_extensions import assert_type

if TYPE_CHECKING:

    def sync_calls(c: corral.Connection, g: corral.Group) -> None:
        assert_type(c.run("true", hide=True, warn=True, timeout=5), Result)
        assert_type(c.sudo("true", user="www-data", pty=True), Result)
        assert_type(c.local(["echo", "x"], env={"A": "1"}), Result)
        assert_type(
            c.put("a", "/tmp/a", recursive=True, only_changed=True, mode=0o644), TransferResult
        )
        assert_type(c.put(io.BytesIO(b"x"), "/tmp/b", sudo=True, owner="root"), TransferResult)
        assert_type(c.get("/etc/hostname", "{host}/", recursive=False), TransferResult)
        assert_type(c.put_template("t.j2", "/etc/t", {"a": 1}, validate="x {path}"), TransferResult)
        assert_type(c.rsync("src/", "/srv", delete=True, exclude=["*.tmp"], timeout=3), RsyncResult)
        assert_type(g.run("uptime", batch_size="10%", max_failures=2, hide=True), GroupResult)
        assert_type(g.put("a", "/tmp/a", only_changed=True, concurrency=8), GroupResult)
        assert_type(g.get("/var/log/x", "logs/{host}/", host_timeout=30), GroupResult)
        corral.Group("a", "b", concurrency=10, user="deploy", connect_timeout=3)
        # Invoke's asynchronous= and disown=, and its module-level run and sudo
        assert_type(c.run("sleep 1", asynchronous=True), Promise)
        assert_type(c.run("sleep 1", asynchronous=True).join(), Result)
        assert_type(c.sudo("true", disown=True), None)
        assert_type(c.local("make", asynchronous=True), Promise)
        assert_type(corral.run("true", hide=True), Result)
        assert_type(corral.sudo("true", password="x"), Result)

    async def aio_calls(c: corral.aio.Connection, g: corral.aio.Group) -> None:
        assert_type(await c.run("true", hide=True, warn=True, timeout=5), Result)
        assert_type(await c.sudo("true", user="www-data", pty=True), Result)
        assert_type(await c.put("a", "/tmp/a", recursive=True, mode=0o644), TransferResult)
        assert_type(await c.get("/etc/hostname", "{host}/"), TransferResult)
        assert_type(await c.put_template("t.j2", "/etc/t", validate="x {path}"), TransferResult)
        assert_type(await c.rsync("src/", "/srv", delete=True), RsyncResult)
        assert_type(await g.run("uptime", batch_size=10, hide=True), GroupResult)
        assert_type(await g.put("a", "/tmp/a", concurrency=8), GroupResult)

    def wrong_options(c: corral.Connection) -> None:
        c.put("a", "/tmp/a", recursiv=True)  # type: ignore[call-arg]
        c.rsync("a", "b", delet=True)  # type: ignore[call-arg]
        c.run("true", hide=3.5)  # type: ignore[call-overload]
