"""Tests of this corralfile, written as you would write them for your own.

    pytest examples/deploy      # corral's pytest plugin provides the corral_* fixtures

Unit tests call the corralfile's functions, with a MockContext where they run commands.
End-to-end tests run the `corral` command against a throwaway fleet of SSH hosts, also with
faults (corral.testing.faults): a host that hangs, a full disk. Those need real sshd (root).
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import corralfile
import pytest

from corral import Config, Connection
from corral.testing import Fleet, FleetHost, FleetUnavailable, MockContext, start_fleet
from corral.testing.faults import frozen_host, tiny_disk

HERE = Path(__file__).resolve().parent


# ---------------------------------------------------------------------- unit tests


@pytest.mark.parametrize(
    ("names", "current", "keep", "doomed"),
    [
        (["r1", "r2", "r3"], "r3", 5, []),
        (["r1", "r2", "r3", "r4", "r5", "r6", "r7"], "r7", 5, ["r1", "r2"]),
        (["r3", "r1", "r2"], "r3", 1, ["r1", "r2"]),
        (["r1", "r2", "r3"], "r1", 1, ["r2"]),  # after a rollback: the current one stays
    ],
)
def test_releases_to_prune(names: list[str], current: str, keep: int, doomed: list[str]) -> None:
    assert corralfile.releases_to_prune(names, current, keep) == doomed


@pytest.mark.parametrize(
    ("current", "previous"), [("r3", "r2"), ("r2", "r1"), ("r1", None), ("", None)]
)
def test_previous_release(current: str, previous: str | None) -> None:
    assert corralfile.previous_release(["r2", "r3", "r1"], current) == previous


def test_prune_deletes_old_releases_but_not_the_current_one() -> None:
    site = corralfile.Site("web1", "~/apps/web1/hello", keep=2, settings={})
    c = MockContext(
        run={
            "ls -1 ~/apps/web1/hello/releases": "r1\nr2\nr3\nr4\n",
            "readlink ~/apps/web1/hello/current": "releases/r2\n",  # rolled back to r2
            re.compile("cd .* && rm -rf "): True,
        }
    )
    corralfile.prune(c, site)
    assert c.commands[-1] == "cd ~/apps/web1/hello/releases && rm -rf -- r1"


# ---------------------------------------------------------------------- end to end


def corral(fleet_ssh_config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run `corral -c corralfile.py -S SSH_CONFIG ARGS...` and return what it did."""
    argv = ["-c", str(HERE / "corralfile.py"), "-S", str(fleet_ssh_config), *args]
    return subprocess.run(
        [sys.executable, "-m", "corral.cli.main", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


Corral = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run(corral_fleet: Fleet, corral_hosts: list[FleetHost]) -> Iterator[Corral]:
    """`run(*args)`: corral on this test's hosts, with releases in a fresh remote directory."""
    root = f"~/corral-example-{uuid.uuid4().hex[:8]}"
    hosts = ",".join(h.alias for h in corral_hosts)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        sets = ["--set", f"app.base={root}/{{host}}/hello"]
        return corral(corral_fleet.ssh_config_path, "-H", hosts, *sets, *args)

    yield run
    corral(corral_fleet.ssh_config_path, "-H", hosts, "--", "rm", "-rf", root)


@pytest.mark.corral_fleet_hosts(2)
def test_deploy_again_then_roll_back(run: Corral) -> None:
    first = run("deploy")
    assert first.returncode == 0, first.stderr
    assert "1 replica(s), staging" in first.stdout
    second = run("--set", "deploy_env=production", "deploy")
    assert second.returncode == 0, second.stderr
    assert "3 replica(s), production" in second.stdout

    listing = run("releases").stdout.splitlines()  # "host1:   OLD", "host1: * NEW", ...
    assert len(listing) == 4 and [line.count("*") for line in listing] == [0, 1, 0, 1]
    older = listing[0].split()[-1]

    back = run("rollback")
    assert back.returncode == 0, back.stderr
    assert f"hello {older} reloaded: 1 replica(s), staging" in back.stdout
    assert run("health").returncode == 0


# ---------------------------------------------------------------------- faults


@pytest.fixture(scope="module")
def own_fleet() -> Iterator[Fleet]:
    """Two hosts with an sshd each, so that one can hang alone (real sshd: needs root)."""
    try:
        fleet = start_fleet(2, hosts_per_sshd=1)
    except FleetUnavailable as exc:
        pytest.skip(str(exc))
    with fleet:
        yield fleet


def test_a_hung_host_fails_alone_and_the_others_deploy(own_fleet: Fleet) -> None:
    root = f"~/corral-example-{uuid.uuid4().hex[:8]}"
    args = ["-H", "host1,host2", "-P", "-t", "2", "--connect-retries", "0"]
    args += ["--set", f"app.base={root}/{{host}}/hello"]
    with frozen_host(own_fleet, own_fleet.hosts[1]):  # host2: TCP accepted, nothing answers
        proc = corral(own_fleet.ssh_config_path, *args, "deploy")
    assert proc.returncode == 1
    assert "host1" in proc.stdout and "1 replica(s), staging" in proc.stdout
    assert "host2: no answer from" in proc.stdout  # the report names the hung host
    assert "2 hosts: 1 ok, 1 failed" in proc.stdout
    corral(own_fleet.ssh_config_path, "-H", "host1,host2", "--", "rm", "-rf", root)


def test_a_deploy_to_a_full_disk_fails_and_the_live_release_stays(own_fleet: Fleet) -> None:
    with tiny_disk(own_fleet, "1m") as disk:  # disk.alias sees a 1 MiB filesystem at disk.mount
        args = ["-H", disk.alias, "--set", f"app.base={disk.mount}/{{host}}/hello"]
        assert corral(disk.ssh_config_path, *args, "deploy").returncode == 0
        config = Config(overrides={"ssh_config_path": str(disk.ssh_config_path)})
        with Connection(disk.alias, config=config) as c:  # fill the disk
            c.run(f"head -c 2000000 /dev/zero > {disk.mount}/filler", warn=True, hide=True)
        proc = corral(disk.ssh_config_path, *args, "deploy")
        assert proc.returncode == 1
        assert "disk full" in proc.stderr
        assert corral(disk.ssh_config_path, *args, "health").returncode == 0  # still live
