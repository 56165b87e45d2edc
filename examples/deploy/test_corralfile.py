"""Tests of this corralfile, written as you would write them for your own.

    pytest examples/deploy      # corral's pytest plugin provides the corral_* fixtures

Unit tests render the config template with corral.yaml's settings (every environment).
End-to-end tests run the `corral` command against a throwaway fleet of SSH hosts, also with
faults (corral.testing.faults): a host that hangs, a full disk. Those need real sshd (root).
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import jinja2
import pytest

from corral import Config, Connection
from corral.config import load_config
from corral.testing import Fleet, FleetHost, FleetUnavailable, start_fleet
from corral.testing.faults import frozen_host, tiny_disk

HERE = Path(__file__).resolve().parent


# ---------------------------------------------------------------------- unit tests


def render(**sets: object) -> str:
    """Render the config template as the recipe does, with corral.yaml and `sets` on top."""
    config = load_config(project_dir=HERE, sets=sets, environ={})
    context = {k: v for k, v in config.to_dict().items() if k not in ("deploy",)}
    context.update(release="r1", host="web1")
    environment = jinja2.Environment(undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return environment.from_string((HERE / "templates" / "app.conf.j2").read_text()).render(context)


@pytest.mark.parametrize(("env", "replicas"), [("staging", "1"), ("production", "3")])
def test_every_environment_renders_a_config(env: str, replicas: str) -> None:
    text = render(deploy_env=env)
    assert f"environment = {env}\n" in text and f"replicas = {replicas}\n" in text


def test_app_replicas_overrides_the_environment() -> None:
    assert "replicas = 5\n" in render(deploy_env="production", app={"replicas": 5})


def test_an_unknown_environment_is_an_error_not_an_empty_config() -> None:
    with pytest.raises(jinja2.UndefinedError):
        render(deploy_env="qa")


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
        sets = ["--set", f"deploy.path={root}/{{host}}/hello"]
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
    args += ["--set", f"deploy.path={root}/{{host}}/hello"]
    with frozen_host(own_fleet, own_fleet.hosts[1]):  # host2: TCP accepted, nothing answers
        proc = corral(own_fleet.ssh_config_path, *args, "deploy")
    assert proc.returncode == 1
    assert "host1" in proc.stdout and "1 replica(s), staging" in proc.stdout
    assert "host2: no answer from" in proc.stdout  # the report names the hung host
    assert "2 hosts: 1 ok, 1 failed" in proc.stdout
    corral(own_fleet.ssh_config_path, "-H", "host1,host2", "--", "rm", "-rf", root)


def test_a_deploy_to_a_full_disk_fails_and_the_live_release_stays(own_fleet: Fleet) -> None:
    with tiny_disk(own_fleet, "1m") as disk:  # disk.alias sees a 1 MiB filesystem at disk.mount
        args = ["-H", disk.alias, "--set", f"deploy.path={disk.mount}/{{host}}/hello"]
        assert corral(disk.ssh_config_path, *args, "deploy").returncode == 0
        config = Config(overrides={"ssh_config_path": str(disk.ssh_config_path)})
        with Connection(disk.alias, config=config) as c:  # fill the disk
            c.run(f"head -c 2000000 /dev/zero > {disk.mount}/filler", warn=True, hide=True)
        proc = corral(disk.ssh_config_path, *args, "deploy")
        assert proc.returncode == 1
        assert "disk full" in proc.stderr
        assert corral(disk.ssh_config_path, *args, "health").returncode == 0  # still live
