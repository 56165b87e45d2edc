"""Groups against real sshd: limits, rolling batches, retries, failures, output, 200 hosts."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import corral.aio
import corral.errors
from corral import (
    Config,
    Connection,
    Group,
    GroupException,
    GroupResult,
    Result,
    SerialGroup,
    ThreadingGroup,
    UnexpectedExit,
)
from corral.errors import HostSkipped, HostTimeout, HostUnreachable
from corral.testing.fleet import SSHDFleet

from .conftest import fleet_config

ADDRESS = "$(echo $SSH_CONNECTION | cut -d' ' -f3)"


def _fail_on(*addresses: str) -> str:
    wanted = " ".join(addresses)
    return f'case " {wanted} " in *" {ADDRESS} "*) echo failing >&2; exit 3;; esac; echo ok'


def test_run_on_every_host_with_prefixed_output(
    fleet: SSHDFleet, config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    aliases = [h.alias for h in fleet.hosts]
    with Group(*aliases, config=config) as group:
        result = group.run(f"echo {ADDRESS}; echo warn >&2")
        connections = list(group)
    assert isinstance(result, GroupResult)
    assert list(result) == connections  # every host, in order, keyed by its Connection
    assert all(isinstance(c, Connection) for c in result)
    assert [r.stdout.strip() for r in result.values()] == [h.address for h in fleet.hosts]
    out = capsys.readouterr()
    for host in fleet.hosts:
        assert f"[{host.alias}] {host.address}\n" in out.out
        assert f"[{host.alias}] warn\n" in out.err


def test_one_failing_host_raises_group_exception_with_every_host(
    fleet: SSHDFleet, config: Config
) -> None:
    group = Group(*(h.alias for h in fleet.hosts), config=config)
    with pytest.raises(GroupException) as info:
        group.run(_fail_on(fleet.hosts[1].address), hide=True)
    result = info.value.result
    assert len(result) == 3
    assert set(c.original_host for c in result.succeeded) == {
        fleet.hosts[0].alias,
        fleet.hosts[2].alias,
    }
    (failed,) = result.failed.values()
    assert isinstance(failed, UnexpectedExit) and failed.result.exited == 3
    text = str(info.value)
    assert text.startswith("3 hosts: 2 ok, 1 failed, 0 skipped")
    assert f"{fleet.hosts[1].alias}: command" in text and "status 3" in text
    warned = group.run(_fail_on(fleet.hosts[1].address), hide=True, warn=True)
    assert len(warned.succeeded) == 3 and not warned.failed  # warn: failures are Results
    group.close()


def test_unreachable_host_among_good_ones(fleet: SSHDFleet, config: Config) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    group = Group(fleet.hosts[0].alias, dead, fleet.hosts[1].alias, config=config)
    with pytest.raises(GroupException) as info:
        group.run("true", hide=True, connect_retries=1)
    result = info.value.result
    assert len(result.succeeded) == 2
    (error,) = result.failed.values()
    assert isinstance(error, HostUnreachable)
    group.close()


def test_concurrency_limit_seen_from_the_hosts_own_clocks(make_fleet) -> None:
    small = make_fleet(8)
    group = Group(*(h.alias for h in small.hosts), config=fleet_config(small), concurrency=3)
    result = group.run("date +%s.%N; sleep 0.6; date +%s.%N", hide=True)
    group.close()
    spans = [tuple(map(float, r.stdout.split())) for r in result.values()]
    events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
    running = peak = 0
    for _, delta in events:
        running += delta
        peak = max(peak, running)
    assert peak == 3


def test_rolling_batches_stop_after_max_failures_and_skip_the_rest(make_fleet) -> None:
    small = make_fleet(10)
    hosts = small.hosts
    group = Group(
        *(h.alias for h in hosts), config=fleet_config(small), batch_size=2, max_failures=1
    )
    with pytest.raises(GroupException) as info:
        group.run(_fail_on(hosts[2].address, hosts[3].address), hide=True)
    result = info.value.result
    by_host = {c.original_host: v for c, v in result.items()}
    assert len(by_host) == 10
    assert all(isinstance(by_host[h.alias], Result) for h in hosts[:2])
    assert all(isinstance(by_host[h.alias], UnexpectedExit) for h in hosts[2:4])
    assert all(isinstance(by_host[h.alias], HostSkipped) for h in hosts[4:])
    assert "max_failures=1" in str(by_host[hosts[9].alias])
    assert "6 skipped" in str(info.value)
    group.close()


def test_fail_fast_stops_after_the_first_failure(make_fleet) -> None:
    small = make_fleet(6)
    hosts = small.hosts
    group = SerialGroup(*(h.alias for h in hosts), config=fleet_config(small), fail_fast=True)
    with pytest.raises(GroupException) as info:
        group.run(_fail_on(hosts[1].address), hide=True)
    result = info.value.result
    assert (len(result.succeeded), len(result.failed), len(result.skipped)) == (1, 1, 4)
    group.close()


def test_retries_succeed_against_an_sshd_with_a_tiny_max_startups(make_fleet) -> None:
    small = make_fleet(16, sshd_options={"MaxStartups": "2:100:2"})
    group = Group(*(h.alias for h in small.hosts), config=fleet_config(small), connect_retries=8)
    result = group.run("echo ok", hide=True)
    group.close()
    assert [r.stdout for r in result.values()] == ["ok\n"] * 16
    logs = "".join(p.read_text() for p in Path(small.directory).glob("sshd_*.log"))
    assert "drop connection" in logs  # sshd really refused some: the retries were needed


def test_host_timeout_names_the_hung_host(fleet: SSHDFleet, config: Config) -> None:
    slow = fleet.hosts[0]
    command = f"[ {ADDRESS} = {slow.address} ] && sleep 30; echo done"
    group = Group(*(h.alias for h in fleet.hosts), config=config, host_timeout=2)
    started = time.monotonic()
    with pytest.raises(GroupException) as info:
        group.run(command, hide=True)
    assert time.monotonic() - started < 20
    (error,) = info.value.result.failed.values()
    assert isinstance(error, HostTimeout) and error.host == slow.alias
    assert "host_timeout=2 s" in str(info.value)
    assert len(info.value.result.succeeded) == 2
    group.close()


def test_gateway_shared_by_a_parallel_group(fleet: SSHDFleet, config: Config, make_fleet) -> None:
    bastion_fleet = make_fleet(1)
    bastion = Connection(bastion_fleet.hosts[0].alias, config=fleet_config(bastion_fleet))
    group = ThreadingGroup(*(h.alias for h in fleet.hosts), config=config, gateway=bastion)
    result = group.run("echo $SSH_CONNECTION", hide=True)
    assert [r.stdout.split()[2] for r in result.values()] == [h.address for h in fleet.hosts]
    assert len(bastion_fleet.session_pids()) <= 3  # one bastion connection for the whole group
    group.close()
    bastion.close()


def test_sudo_on_a_group(fleet: SSHDFleet, config: Config) -> None:
    with Group(*(h.alias for h in fleet.hosts), config=config) as group:
        result = group.sudo("id -u", password=fleet.password, hide=True)
    assert [r.stdout for r in result.values()] == ["0\n"] * 3


def test_json_records_and_identical_output_grouping(fleet: SSHDFleet, config: Config) -> None:
    with Group(*(h.alias for h in fleet.hosts), config=config) as group:
        result = group.run("uname -s", hide=True)
    ((hosts, text),) = result.grouped_output()
    assert hosts == [h.alias for h in fleet.hosts] and text == "Linux\n"
    records = result.records()
    assert [r["host"] for r in records] == hosts
    assert all(r["ok"] and r["exited"] == 0 and not r["skipped"] for r in records)


async def test_aio_group(fleet: SSHDFleet, config: Config) -> None:
    async with corral.aio.Group(*(h.alias for h in fleet.hosts), config=config) as group:
        result = await group.run("echo hi", hide=True)
    assert [r.stdout for r in result.values()] == ["hi\n"] * 3


def test_ctrl_c_during_a_group_run_leaves_no_remote_process(
    fleet: SSHDFleet, tmp_path: Path
) -> None:
    marker = f"sleep 61.{os.getpid()}"
    script = tmp_path / "interrupt.py"
    script.write_text(
        "import sys\n"
        "from corral import Config, Group\n"
        f"config = Config(overrides={{'ssh_config_path': {str(fleet.ssh_config_path)!r}}})\n"
        f"group = Group(*{[h.alias for h in fleet.hosts]!r}, config=config)\n"
        "try:\n"
        f"    group.run({marker!r}, hide=True)\n"
        "except KeyboardInterrupt:\n"
        "    print(group.last_result.summary())\n"
        "    sys.exit(130)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 20
    pattern = f"[{marker[0]}]{marker[1:]}"
    while time.monotonic() < deadline:  # wait until the commands run on every host
        running = fleet.run_as_user(f"pgrep -f '{pattern}' | wc -l").stdout.strip()
        if running == "3":
            break
        time.sleep(0.1)
    assert running == "3", proc.stderr
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "3 interrupted, 0 skipped" in out  # running when stopped: not "never started"
    deadline = time.monotonic() + 5
    while fleet.run_as_user(f"pgrep -f '{pattern}' || true").stdout.strip():
        assert time.monotonic() < deadline, "remote commands survived Ctrl-C"
        time.sleep(0.1)


def test_two_hundred_hosts_with_a_concurrency_limit(make_fleet) -> None:
    big = make_fleet(200)
    config = fleet_config(big)

    async def main() -> GroupResult:
        async with corral.aio.Group(
            *(h.alias for h in big.hosts), config=config, concurrency=50
        ) as group:
            return await group.run(f"echo {ADDRESS}", hide=True)

    result = asyncio.run(main())
    assert len(result) == 200
    assert [r.stdout.strip() for r in result.values()] == [h.address for h in big.hosts]


def test_group_put_and_get_with_host_placeholders(
    fleet: SSHDFleet, config: Config, tmp_path: Path
) -> None:
    local = tmp_path / "app.conf"
    local.write_text("setting = 1\n")
    with Group(*(h.alias for h in fleet.hosts), config=config) as group:
        pushed = group.put(str(local), "app.conf")
        assert all(r.remote.endswith("/app.conf") for r in pushed.values())
        got = group.get("app.conf", str(tmp_path / "back" / "{host}" / "app.conf"))
        with pytest.raises(corral.errors.ConfigError, match="host"):
            group.get("app.conf", str(tmp_path / "same.conf"))
    assert len(got) == 3
    for host in fleet.hosts:
        copy = tmp_path / "back" / host.address / "app.conf"
        assert copy.read_text() == "setting = 1\n"  # (the fleet's hosts share one home)


async def test_ctrl_c_tells_running_connecting_and_unstarted_hosts_apart(
    fleet: SSHDFleet, tmp_path: Path
) -> None:
    # a listener that never accepts: a connect to it hangs in the handshake
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(0)
    port = silent.getsockname()[1]
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(
        fleet.ssh_config_path.read_text()
        + f"\nHost hung\n    HostName 127.0.0.1\n    Port {port}\n"
    )
    config = Config(overrides={"ssh_config_path": str(ssh_config)})
    hosts = [fleet.hosts[0].alias, "hung", fleet.hosts[1].alias, fleet.hosts[2].alias]
    group = corral.aio.Group(*hosts, config=config, concurrency=3, connect_timeout=30)
    marker = f"61.{os.getpid()}"
    run = asyncio.ensure_future(group.run(f"echo started; sleep {marker}", hide=True))
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            result = group.last_result
            printing = [c for c in group.connections[:3:2] if c.is_connected]
            if result is not None and len(printing) == 2:
                break
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the two reachable hosts are running `sleep`
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await run
        assert group.last_result is not None
        outcome = {c.original_host: v for c, v in group.last_result.items()}
        first, hung, second, last = (outcome[h] for h in hosts)
        for running in (first, second):
            assert isinstance(running, corral.errors.CommandInterrupted)
            assert "while running 'echo started; sleep" in str(running)
            assert running.result is not None and running.result.stdout == "started\n"
        assert isinstance(hung, corral.errors.CommandInterrupted)
        assert "while connecting" in str(hung) and hung.result is None
        assert isinstance(last, HostSkipped)  # concurrency 3: it never started
        summary = group.last_result.summary()
        assert "3 interrupted, 1 skipped" in summary, summary
    finally:
        silent.close()
        await group.close()
    gone = fleet.run_as_user(f"pgrep -f '[s]leep {marker}' || true").stdout.strip()
    assert gone == ""
