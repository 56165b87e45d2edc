"""Limits stay global across shards (rolling batches, max_failures stop on time whatever the
layout), events reach the caller as they happen, placement is seen from the hosts' side, and
faults: a killed worker or node fails its hosts with "controller lost", Ctrl-C stops every
worker's commands, an unreachable cluster or a missing region is an error before anything
starts, and secrets never reach Ray's logs."""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest

from corral import Config, Group, GroupException, aio
from corral.errors import CommandInterrupted, ControllerLost, ExecutorError
from corral.events import Event, EventBus, HostFinished, OutputLine
from corral.executors import PoolExecutor
from corral.executors.ray import RayExecutor
from corral.remote.executors import GroupExecutor
from corral.sync.portal import portal
from corral.testing.fleet import SSHDFleet

from .cluster import RayCluster
from .conftest import fleet_config

pytestmark = pytest.mark.timeout(900)

SERVER = "$(echo $SSH_CONNECTION | cut -d' ' -f3)"
SOURCE = "$(echo $SSH_CONNECTION | cut -d' ' -f1)"


def statuses(result: Any) -> list[tuple[str, str]]:
    """Each host's state in a GroupResult: ok, failed, skipped, interrupted."""
    rows = []
    for conn, value in result.items():
        if isinstance(value, BaseException):
            state = (
                "skipped"
                if getattr(value, "skipped", False)
                else "interrupted"
                if getattr(value, "interrupted", False)
                else "failed"
            )
        else:
            state = "ok"
        rows.append((conn.original_host, state))
    return rows


@pytest.mark.parametrize(
    "limits",
    [
        {"batch_size": 2, "max_failures": 0, "concurrency": 8},
        {"concurrency": 1, "max_failures": 1},
        {"batch_size": 3, "fail_fast": True},
    ],
)
def test_max_failures_and_batches_stop_on_time_across_shards(
    make_fleet: Any, executor: GroupExecutor, limits: dict[str, Any], shared: Path
) -> None:
    fleet: SSHDFleet = make_fleet(6)
    config = fleet_config(fleet)
    hosts = [h.alias for h in fleet.hosts]
    failing = {fleet.hosts[1].address, fleet.hosts[2].address}
    seen = []
    for name, chosen in (("here", None), ("there", executor)):
        marks = shared / name
        marks.mkdir()
        marks.chmod(0o777)
        command = (
            f'touch {marks}/{SERVER}; case " {" ".join(failing)} " in *" {SERVER} "*) exit 5;; esac'
        )
        with Group(*hosts, config=config, executor=chosen, **limits) as group:
            with pytest.raises(GroupException) as info:
                group.run(command, hide=True)
        started = sorted(p.name for p in marks.iterdir())
        seen.append((statuses(info.value.result), started))
    assert seen[0] == seen[1]  # the same hosts ran, failed and were skipped
    states, started = seen[1]
    skipped = [h for h, s in states if s == "skipped"]
    assert skipped and len(started) == len(hosts) - len(skipped)


def test_events_reach_the_caller_while_the_host_still_runs(
    fleet: SSHDFleet, config: Config, executor: GroupExecutor, shared: Path
) -> None:
    tmp_path = shared
    # Each host prints a line, then waits for a file the caller creates only when that line's
    # event has arrived: events that came at the end would leave every host waiting.
    bus = EventBus()
    seen: list[Event] = []

    def consumer(event: Event) -> None:
        seen.append(event)
        if isinstance(event, OutputLine) and event.text.startswith("first "):
            (tmp_path / event.text.split()[1]).touch()

    bus.subscribe(consumer)
    command = (
        f"echo first {SERVER}; "
        f"for i in $(seq 600); do [ -e {tmp_path}/{SERVER} ] && break; sleep 0.1; done; "
        f"[ -e {tmp_path}/{SERVER} ] && echo second"
    )
    with Group(*(h.alias for h in fleet.hosts), config=config, executor=executor, events=bus) as g:
        result = g.run(command, hide=True)
    assert [r.stdout.split("\n")[1] for r in result.values()] == ["second"] * 3
    for host in fleet.hosts:
        order = [
            type(e).__name__
            for e in seen
            if (getattr(e, "host", None) == host.alias and not isinstance(e, OutputLine))
            or (isinstance(e, OutputLine) and e.host == host.alias and e.text.startswith("first"))
        ]
        assert order == ["HostStarted", "OutputLine", "HostFinished"]


def _placed(fleet: SSHDFleet, config: Config, regions: list[str | None]) -> list[aio.Connection]:
    connections = []
    for host, region in zip(fleet.hosts, regions, strict=True):
        conn = aio.Connection(host.alias, config=config.clone())
        if region is not None:
            conn.host_vars = MappingProxyType({"region": region})
        connections.append(conn)
    return connections


def test_hosts_are_reached_from_the_node_of_their_region(
    fleet: SSHDFleet, config: Config, ray_cluster: RayCluster, ray_executor: RayExecutor
) -> None:
    eu, us = (n.bind_address for n in ray_cluster.nodes if n.name in ("node-eu", "node-us"))
    connections = _placed(fleet, config, ["eu", "us", None])

    async def main() -> Any:
        group = aio.Group.from_connections(connections, executor=ray_executor)
        try:
            return await group.run(f"echo {SOURCE}", hide=True)
        finally:
            await group.close()

    result = portal.call(main)
    sources = [r.stdout.strip() for r in result.values()]
    assert sources[0] == eu and sources[1] == us  # seen by the hosts' sshd
    assert sources[2] in (eu, us, "127.0.0.1")  # no region: anywhere


def test_a_region_no_node_offers_is_an_error_before_anything_starts(
    fleet: SSHDFleet, config: Config, ray_executor: RayExecutor, shared: Path
) -> None:
    tmp_path = shared
    connections = _placed(fleet, config, ["eu", "mars", None])

    async def main() -> Any:
        group = aio.Group.from_connections(connections, executor=ray_executor)
        try:
            return await group.run(f"touch {tmp_path}/{SERVER}", hide=True)
        finally:
            await group.close()

    with pytest.raises(ExecutorError, match="region_mars") as info:
        portal.call(main)
    assert fleet.hosts[1].alias in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_cluster_is_an_error_before_anything_starts(
    fleet: SSHDFleet, shared: Path
) -> None:
    tmp_path = shared
    from .cluster import free_port

    address = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    command = [
        sys.executable, "-m", "corral.cli.main", "-S", str(fleet.ssh_config_path),
        "-H", ",".join(h.alias for h in fleet.hosts), "-P",
        "--executor", "ray", "--ray-address", address, "--", f"touch {tmp_path}/{SERVER}",
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    del started
    assert done.returncode == 1, done.stderr
    assert f"cannot reach the Ray cluster at '{address}'" in done.stderr
    assert "--ray-address" in done.stderr
    assert list(tmp_path.iterdir()) == []


def _run_in_thread(target: Any) -> tuple[threading.Thread, dict[str, Any]]:
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = target()
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def test_a_killed_ray_node_fails_its_hosts_as_controller_lost(
    fleet: SSHDFleet, config: Config, ray_cluster: RayCluster, ray_executor: RayExecutor
) -> None:
    # the us node is killed (its raylet, its workers), then started again for later tests
    node = next(n for n in ray_cluster.nodes if n.name == "node-us")
    connections = _placed(fleet, config, ["us", "us", "eu"])
    started = threading.Event()
    begun: set[str] = set()
    bus = EventBus()
    seen: list[Event] = []

    def consumer(event: Event) -> None:
        seen.append(event)
        if isinstance(event, OutputLine) and event.text == "started":
            begun.add(event.host)
            if len(begun) == 3:
                started.set()

    bus.subscribe(consumer)
    flag = f"/tmp/corral-ray-kill-{uuid.uuid4().hex}"
    command = f"echo started; for i in $(seq 900); do [ -e {flag} ] && break; sleep 0.1; done"

    async def main() -> Any:
        group = aio.Group.from_connections(connections, executor=ray_executor, events=bus)
        try:
            return await group.run(command, hide=True)
        finally:
            await group.close()

    thread, box = _run_in_thread(lambda: portal.call(main))
    try:
        assert started.wait(300), "the hosts never started"
        node.kill()
        # the eu host goes on until told: its actor is alive
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(
            isinstance(e, HostFinished) and e.host == fleet.hosts[0].alias for e in seen
        ):
            time.sleep(0.5)
    finally:
        Path(flag).touch()
        thread.join(300)
        Path(flag).unlink(missing_ok=True)
        if node.process.poll() is not None:
            ray_cluster.restart(node)
    error = box.get("error")
    assert isinstance(error, GroupException), box
    outcomes = [error.result[c] for c in connections]
    assert all(isinstance(o, ControllerLost) for o in outcomes[:2]), outcomes
    assert "controller lost" in str(outcomes[0]) and "--rerun-failed" in str(outcomes[0])
    assert not isinstance(outcomes[2], BaseException) and outcomes[2].ok
    finished = {e.host: e for e in seen if isinstance(e, HostFinished)}
    assert finished[fleet.hosts[0].alias].status == "failed"
    assert finished[fleet.hosts[0].alias].error_type == "ControllerLost"


def test_a_killed_pool_worker_fails_its_hosts_as_controller_lost(
    fleet: SSHDFleet, config: Config, pool_executor: PoolExecutor
) -> None:
    import os
    import signal

    started = threading.Event()
    begun: set[str] = set()
    bus = EventBus()

    def consumer(event: Event) -> None:
        if isinstance(event, OutputLine) and event.text == "started":
            begun.add(event.host)
            if len(begun) == 3:
                started.set()

    bus.subscribe(consumer)
    flag = f"/tmp/corral-pool-kill-{uuid.uuid4().hex}"
    command = f"echo started; for i in $(seq 900); do [ -e {flag} ] && break; sleep 0.1; done"
    hosts = [h.alias for h in fleet.hosts]
    group = Group(*hosts, config=config, executor=pool_executor, events=bus)
    thread, box = _run_in_thread(lambda: group.run(command, hide=True))
    try:
        assert started.wait(300), "the hosts never started"
        victim = pool_executor.shards[0]
        running = len(victim.jobs)
        os.kill(victim.handle, signal.SIGKILL)
        time.sleep(1)
    finally:
        Path(flag).touch()
        thread.join(300)
        Path(flag).unlink(missing_ok=True)
        group.close()
    error = box.get("error")
    assert isinstance(error, GroupException), box
    lost = [v for v in error.result.values() if isinstance(v, ControllerLost)]
    assert len(lost) == running and running >= 1
    assert len(error.result.succeeded) == 3 - running


def test_ctrl_c_stops_every_workers_commands(
    fleet: SSHDFleet, config: Config, executor: GroupExecutor
) -> None:
    sleeper = f"sleep 300.{uuid.uuid4().int % 10**6}"
    started: asyncio.Event | None = None
    begun: set[str] = set()
    bus = EventBus()

    def consumer(event: Event) -> None:
        if isinstance(event, OutputLine) and event.text == "started":
            begun.add(event.host)
            if len(begun) == 3 and started is not None:
                started.set()

    bus.subscribe(consumer)

    async def main() -> Any:
        nonlocal started
        started = asyncio.Event()
        group = aio.Group(
            *(h.alias for h in fleet.hosts), config=config, executor=executor, events=bus
        )
        run = asyncio.ensure_future(group.run(f"echo started; {sleeper}", hide=True))
        await asyncio.wait_for(started.wait(), 300)
        run.cancel()  # what Ctrl-C does to the call
        with pytest.raises(asyncio.CancelledError):
            await run
        await group.close()
        return group.last_result

    result = portal.call(main)
    assert result is not None and len(result) == 3
    for value in result.values():
        assert isinstance(value, CommandInterrupted), value
        assert value.result is not None and value.result.stdout == "started\n"
        assert "the command was stopped" in str(value)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _running(sleeper):
        time.sleep(0.5)
    assert not _running(sleeper)


def _running(pattern: str) -> bool:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, check=False)
    return found.returncode == 0


@pytest.mark.parametrize("kind", ["pool", "ray"])
def test_ctrl_c_ends_the_command_with_130_and_stops_the_hosts(
    fleet: SSHDFleet, kind: str, request: pytest.FixtureRequest
) -> None:
    import signal

    sleeper = f"sleep 300.{uuid.uuid4().int % 10**6}"
    extra = ["--executor", kind]
    if kind == "ray":
        cluster: RayCluster = request.getfixturevalue("ray_cluster")
        extra += ["--ray-address", cluster.address]
    command = [
        sys.executable, "-m", "corral.cli.main", "-S", str(fleet.ssh_config_path),
        "-H", ",".join(h.alias for h in fleet.hosts), "-P", *extra,
        "--", f"echo started; {sleeper}",
    ]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert process.stdout is not None
        lines = 0
        while lines < 3:
            line = process.stdout.readline()
            assert line, process.stderr.read() if process.stderr else ""
            lines += "started" in line
        process.send_signal(signal.SIGINT)
        _out, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 130, err
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _running(sleeper):
        time.sleep(0.5)
    assert not _running(sleeper)


def test_secrets_never_reach_rays_logs(
    fleet: SSHDFleet, ray_cluster: RayCluster, ray_executor: RayExecutor
) -> None:
    from corral.config import Secret

    token = f"tok-{uuid.uuid4().hex}"
    config = fleet_config(fleet, sudo={"password": fleet.password})
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append)
    hosts = [h.alias for h in fleet.hosts]
    with Group(*hosts, config=config, executor=ray_executor, events=bus) as group:
        result = group.sudo("id -u", hide=True)
        assert {r.stdout for r in result.values()} == {"0\n"}
        shown = group.run(
            'echo token=$TOKEN; echo bad-$TOKEN >&2; printf %s "$TOKEN" | sha256sum',
            env={"TOKEN": Secret(token)},
            pty=False,
        )
    digest = hashlib.sha256(token.encode()).hexdigest()
    for value in shown.values():  # the hosts got it; the caller sees it masked, as in-process
        assert value.stdout.startswith("token=****\n") and digest in value.stdout
    lines = [e.text for e in seen if isinstance(e, OutputLine)]
    assert "token=****" in lines and not any(token in line for line in lines)
    time.sleep(2)  # Ray's log monitor writes what workers printed
    leaks = []
    for path in ray_cluster.temp_dir.rglob("*"):
        if path.is_file() and not path.is_symlink():
            try:
                data = path.read_bytes()
            except OSError:
                continue
            for secret in (token, fleet.password):
                if secret.encode() in data:
                    leaks.append(str(path))
    assert leaks == []
