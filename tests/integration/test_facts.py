"""Facts against real sshd: the fleet's hosts are this machine, so each fact is checked
against what the machine itself says. The probe also runs under dash and busybox sh here,
and with no tools on PATH (every fact it cannot read is None, never an exception)."""

from __future__ import annotations

import ipaddress
import os
import platform
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import pytest

import corral
import corral.aio
from corral import Config, Facts
from corral.errors import FactsError
from corral.remote.facts import parse_facts, probe_script
from corral.testing.fleet import SSHDFleet

from .conftest import fleet_config


def _os_release() -> dict[str, str]:
    values = {}
    for line in Path("/etc/os-release").read_text().splitlines():
        key, _, value = line.partition("=")
        values[key] = value.strip('"')
    return values


def _meminfo_mb(key: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) // 1024
    raise AssertionError(key)


def _global_addresses() -> set[str]:
    """This machine's global addresses, as `ip` lists them (not as the probe reads them)."""
    if shutil.which("ip") is None:
        pytest.fail("the ip command is missing (iproute2): scripts/install installs it")
    lines = subprocess.run(
        ["ip", "-o", "addr", "show", "scope", "global"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    return {line.split()[3].split("/")[0] for line in lines}


def test_facts_are_what_this_machine_says(fleet: SSHDFleet, config: Config) -> None:
    with corral.Connection(fleet.hosts[0].alias, config=config) as c:
        facts = c.facts
    release = _os_release()
    assert isinstance(facts, Facts)
    assert facts.hostname == socket.gethostname()
    assert facts.os.distribution == release["ID"]
    assert facts.os.family == "debian"
    assert facts.os.version == release.get("VERSION_ID")
    assert facts.os.codename == release.get("VERSION_CODENAME")
    assert facts.kernel.name == platform.system()
    assert facts.kernel.release == platform.release()
    assert facts.arch == platform.machine()
    assert facts.cpu_count == os.cpu_count()
    assert facts.memory.total_mb == _meminfo_mb("MemTotal")
    assert facts.package_manager == "apt"
    assert facts.mounts is not None and "/" in [m.mount for m in facts.mounts]
    root = os.statvfs("/")
    size_mb = root.f_blocks * root.f_frsize // (1024 * 1024)
    assert next(m.size_mb for m in facts.mounts if m.mount == "/") == size_mb
    assert set(facts.addresses.all or ()) == _global_addresses()
    assert facts.addresses.ipv4 in _global_addresses()
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    assert facts.uptime_seconds is not None and 0 < facts.uptime_seconds <= uptime
    comm = Path("/proc/1/comm").read_text().strip()
    assert facts.init == ("systemd" if comm == "systemd" else comm)
    container = "docker" if Path("/.dockerenv").exists() else facts.virtualization.container
    assert facts.virtualization.container == container
    fqdn = subprocess.run(["hostname", "-f"], capture_output=True, text=True).stdout.strip()
    assert facts.fqdn == fqdn


async def test_facts_take_one_command_and_are_cached_until_refresh(
    fleet: SSHDFleet, config: Config
) -> None:
    commands: list[str] = []
    async with corral.aio.Connection(fleet.hosts[0].alias, config=config) as c:
        probe = c.probe  # facts are read through the read-only door (runs under --check)

        async def counting_probe(command: Any, **kwargs: Any) -> corral.Result:
            commands.append(command)
            return await probe(command, **kwargs)

        c.probe = counting_probe  # type: ignore[method-assign]
        first = await c.facts()
        assert await c.facts() is first
        assert await c.gather_facts() is first
        assert len(commands) == 1  # one round trip
        again = await c.facts(refresh=True)
        assert again is not first and again.os == first.os
        assert len(commands) == 2


async def test_facts_are_gathered_in_check_mode_too(fleet: SSHDFleet) -> None:
    config = fleet_config(fleet, run={"check": True})
    async with corral.aio.Connection(fleet.hosts[0].alias, config=config) as c:
        facts = await c.facts()
    assert facts.hostname == os.uname().nodename and facts.os.family == "debian"


def test_sync_gather_facts_and_group_facts_in_one_round_trip_each(
    fleet: SSHDFleet, config: Config
) -> None:
    aliases = [h.alias for h in fleet.hosts]
    with corral.Group(*aliases, config=config) as group:
        result = group.facts()
        assert [c.original_host for c in result] == aliases
        assert all(isinstance(f, Facts) and f.cpu_count == os.cpu_count() for f in result.values())
        first = group[0]
        assert first.facts is result[first]  # group.facts() filled each connection's cache
        assert first.gather_facts(refresh=True) is not result[first]


def test_missing_tools_give_none_fields_not_an_exception(fleet: SSHDFleet, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    config = Config(
        overrides={
            "ssh_config_path": str(fleet.ssh_config_path),
            "run": {"env": {"PATH": str(empty)}},
        }
    )
    with corral.Connection(fleet.hosts[0].alias, config=config) as c:
        facts = c.facts
    assert facts.os.family is None and facts.cpu_count is None and facts.mounts is None
    assert facts.addresses.all is None and facts.package_manager is None


def test_a_probe_that_cannot_run_is_a_facts_error(fleet: SSHDFleet, config: Config) -> None:
    with corral.Connection(fleet.hosts[0].alias, config=config) as c:
        with (
            c.cd("/nonexistent-directory"),
            pytest.raises(
                FactsError, match=r"host1: the facts probe did not run to its end \(exit status"
            ),
        ):
            c.gather_facts()


def test_dry_runs_connect_nowhere_so_facts_are_unknown() -> None:
    config = Config(overrides={"run": {"dry": True}, "load_ssh_configs": False})
    c = corral.Connection("unreachable.invalid", port=1, config=config)
    assert c.facts == Facts()
    assert not c.is_connected


@pytest.mark.parametrize("shell", ["dash", "busybox", "bash"])
def test_the_probe_runs_under_dash_busybox_and_bash(shell: str) -> None:
    argv = {"dash": ["dash"], "busybox": ["busybox", "sh"], "bash": ["bash", "--posix"]}[shell]
    if shutil.which(argv[0]) is None:
        pytest.fail(f"{argv[0]} is missing: scripts/install installs it")
    syntax = subprocess.run([*argv, "-n", "-c", probe_script()], capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr
    done = subprocess.run([*argv, "-c", probe_script()], capture_output=True, text=True)
    assert done.returncode == 0 and done.stderr == ""
    facts = parse_facts(done.stdout)
    assert facts.cpu_count == os.cpu_count() and facts.arch == platform.machine()
    assert facts.memory.total_mb == _meminfo_mb("MemTotal")
    assert all(ipaddress.ip_address(a) for a in facts.addresses.all or ())


def test_the_busybox_applets_alone_are_enough(tmp_path: Path) -> None:
    busybox = shutil.which("busybox")
    if busybox is None:
        pytest.fail("busybox is missing: scripts/install installs it")
    for applet in ("awk", "df", "uname", "sh"):
        (tmp_path / applet).symlink_to(busybox)
    done = subprocess.run(
        [busybox, "sh", "-c", probe_script()],
        capture_output=True,
        text=True,
        env={"PATH": str(tmp_path)},
    )
    facts = parse_facts(done.stdout)
    assert facts.cpu_count == os.cpu_count()
    assert facts.mounts is not None and "/" in [m.mount for m in facts.mounts]


async def test_group_facts_report_progress_as_ok(fleet: SSHDFleet, config: Config) -> None:
    states: list[tuple[str, str]] = []
    group = corral.aio.Group(*(h.alias for h in fleet.hosts), config=config)
    group.on_progress = lambda host, state: states.append((host, state))
    async with group:
        await group.facts()
    assert sorted(s for s in states if s[1] != "running") == [
        (h.alias, "ok") for h in fleet.hosts
    ]  # a host's value that is not a Result (Facts, a task's return) is success
