"""service against real SysV init scripts and the `service` command (the test machines have
no systemd: PID 1 is not systemd, so the facts choose SysV; systemd and OpenRC are tested at
the level of their commands in tests/unit/operations). Each test installs an init script of
its own, whose daemon is a `sleep`, and removes everything afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import corral.aio
from corral.aio import ops
from corral.errors import OperationArgumentError, ServiceNotFoundError

from .conftest import three_runs

pytestmark = pytest.mark.needs("root", "service", "update-rc.d")

SCRIPT = """#!/bin/sh
### BEGIN INIT INFO
# Provides:          {name}
# Required-Start:    $remote_fs
# Required-Stop:     $remote_fs
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: a corral test service
### END INIT INFO
PID=/run/{name}.pid
LOG=/run/{name}.log
running() {{ [ -f $PID ] && kill -0 "$(cat $PID)" 2>/dev/null; }}
case "$1" in
  start) running || {{ setsid sleep 100000 </dev/null >/dev/null 2>&1 & echo $! > $PID; }}
         echo start >> $LOG ;;
  stop) if running; then kill "$(cat $PID)"; fi; rm -f $PID; echo stop >> $LOG ;;
  restart) "$0" stop; "$0" start ;;
  reload) running || exit 7; echo reload >> $LOG ;;
  status) running ;;
  *) echo "usage: $0 start|stop|restart|reload|status" >&2; exit 3 ;;
esac
"""


class Service:
    """A SysV service of the test's own: its script, pid file and log."""

    def __init__(self) -> None:
        self.name = f"corral-test-svc-{uuid.uuid4().hex[:8]}"
        self.script = Path("/etc/init.d") / self.name
        self.pid = Path("/run") / f"{self.name}.pid"
        self.log = Path("/run") / f"{self.name}.log"

    def install(self) -> None:
        self.script.write_text(SCRIPT.format(name=self.name))
        self.script.chmod(0o755)

    def is_running(self) -> bool:
        try:
            os.kill(int(self.pid.read_text()), 0)
        except (OSError, ValueError):
            return False
        return True

    def is_enabled(self) -> bool:
        return any(any(Path(f"/etc/rc{n}.d").glob(f"S??{self.name}")) for n in (2, 3, 4, 5))

    def actions(self) -> list[str]:
        return self.log.read_text().split() if self.log.exists() else []

    def state(self) -> tuple[bool, bool]:
        return self.is_running(), self.is_enabled()

    def remove(self) -> None:
        if self.pid.exists():
            try:
                os.kill(int(self.pid.read_text()), signal.SIGTERM)
            except (OSError, ValueError):
                pass
        subprocess.run(["update-rc.d", "-f", self.name, "remove"], capture_output=True)
        for path in (self.script, self.pid, self.log):
            path.unlink(missing_ok=True)


@pytest.fixture
def svc() -> Iterator[Service]:
    made = Service()
    made.install()
    try:
        yield made
    finally:
        made.remove()


async def test_service_started_and_enabled_three_runs(
    c: corral.aio.Connection, checking: corral.aio.Connection, svc: Service
) -> None:
    async def apply(conn: corral.aio.Connection) -> ops.OpResult:
        return await ops.service(conn, svc.name, state="started", enabled=True, sudo=True)

    def drift() -> None:
        subprocess.run(["service", svc.name, "stop"], check=True, capture_output=True)

    first, _, third = await three_runs(c, checking, apply, svc.state, drift)
    assert first.message == "start, enable"
    assert third.message == "would start"
    assert svc.state() == (False, True)
    assert svc.actions() == ["start", "stop"]  # check mode started nothing


async def test_stopped_and_disabled(
    c: corral.aio.Connection, checking: corral.aio.Connection, svc: Service
) -> None:
    await ops.service(c, svc.name, state="started", enabled=True, sudo=True)

    async def apply(conn: corral.aio.Connection) -> ops.OpResult:
        return await ops.service(conn, svc.name, state="stopped", enabled=False, sudo=True)

    def drift() -> None:
        subprocess.run(["service", svc.name, "start"], check=True, capture_output=True)

    await three_runs(c, checking, apply, svc.state, drift)
    assert svc.state() == (True, False)


async def test_restarted_and_reloaded_always_act_and_reload_starts_a_stopped_service(
    c: corral.aio.Connection, checking: corral.aio.Connection, svc: Service
) -> None:
    started = await ops.service(c, svc.name, state="reloaded", sudo=True)
    assert started.message == "start" and svc.is_running()
    assert (await ops.service(c, svc.name, state="reloaded", sudo=True)).message == "reload"
    assert (await ops.service(c, svc.name, state="restarted", sudo=True)).message == "restart"
    would = await ops.service(checking, svc.name, state="restarted", sudo=True)
    assert would.changed and would.checked
    assert svc.actions() == ["start", "reload", "stop", "start"]


async def test_a_service_that_does_not_exist_is_a_typed_error_also_in_check_mode(
    c: corral.aio.Connection, checking: corral.aio.Connection
) -> None:
    for conn in (c, checking):
        with pytest.raises(ServiceNotFoundError) as caught:
            await ops.service(conn, "corral-test-no-such-service", state="started", sudo=True)
        error = caught.value
        assert (error.host, error.operation, error.argument) == (c.original_host, "service", "name")
        assert "no service named 'corral-test-no-such-service'" in str(error)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [({}, "state"), ({"state": "running"}, "state"), ({"state": "started", "init": "upstart"},
     "init")],
)  # fmt: skip
async def test_bad_service_arguments(
    c: corral.aio.Connection, kwargs: dict[str, str], argument: str
) -> None:
    with pytest.raises(OperationArgumentError) as caught:
        await ops.service(c, "cron", **kwargs)  # type: ignore[arg-type]
    assert caught.value.argument == argument
