"""examples/deploy as users run it: `corral -c examples/deploy/corralfile.py -S SSH_CONFIG
-H host1,host2 deploy`, a real subprocess against the real-sshd fleet. The hosts share the
login user's home (they are one machine), so what each host got is read straight from it."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.config import load_config
from corral.sync.inventory import plan_hosts
from corral.tasks.executor import Executor
from corral.tasks.loader import load_collection
from corral.testing.fleet import SSHDFleet

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "deploy"
HOSTS = ("host1", "host2")


class Deployment:
    """The example deployed by one test: its own deploy.path, and readers of what landed."""

    def __init__(self, fleet: SSHDFleet) -> None:
        self.fleet = fleet
        self.remote_root = f"corral-example-tests/{uuid.uuid4().hex[:12]}"
        self.local_root = fleet.home / self.remote_root

    def corral(
        self, *args: str, hosts: tuple[str, ...] = HOSTS
    ) -> subprocess.CompletedProcess[str]:
        """Run corral with the example corralfile on `hosts` (a real subprocess)."""
        argv = [
            "-c", "examples/deploy/corralfile.py", "-S", str(self.fleet.ssh_config_path),
            "-H", ",".join(hosts), "--set", f"deploy.path=~/{self.remote_root}/{{host}}/hello",
        ]  # fmt: skip
        return subprocess.run(
            [sys.executable, "-m", "corral.cli.main", *argv, *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
        )

    def deploy(self, *args: str, hosts: tuple[str, ...] = HOSTS) -> str:
        """Deploy successfully; return the new release's name."""
        proc = self.corral(*args, "deploy", hosts=hosts)
        assert proc.returncode == 0, proc.stderr
        assert proc.stderr == ""
        return self.current(hosts[0])

    def base(self, host: str) -> Path:
        return self.local_root / host / "hello"

    def releases(self, host: str) -> list[str]:
        """Every entry of releases/ (hidden ones too), sorted."""
        directory = self.base(host) / "releases"
        return sorted(os.listdir(directory)) if directory.exists() else []

    def current(self, host: str) -> str:
        target = os.readlink(self.base(host) / "current")
        assert target.startswith("releases/")  # relative: the tree can move
        return target.removeprefix("releases/")

    def config(self, host: str) -> str:
        return (self.base(host) / "current" / "app.conf").read_text()

    def running(self, host: str) -> str:
        return (self.base(host) / "running").read_text().strip()


@pytest.fixture
def deployment(fleet: SSHDFleet) -> Iterator[Deployment]:
    d = Deployment(fleet)
    try:
        yield d
    finally:
        shutil.rmtree(d.local_root, ignore_errors=True)
        with contextlib.suppress(OSError):  # the parent, once no test uses it
            d.local_root.parent.rmdir()


def test_two_deploys_with_different_set_values_render_different_configs(
    deployment: Deployment,
) -> None:
    first = deployment.deploy()
    for host in HOSTS:
        assert deployment.current(host) == first and deployment.running(host) == first
        assert deployment.config(host) == (
            f"# hello {first} on {host}: rendered by corral from templates/app.conf.j2\n"
            "banner = STAGING: test data only\n"
            "environment = staging\n"
            f"release = {first}\n"
            "replicas = 1\n"
            "port = 8080\n"
            "log_level = debug\n"
        )
        assert os.access(deployment.base(host) / "current" / "bin" / "hello", os.X_OK)

    second = deployment.deploy("--set", "deploy_env=production", "--set", "app.port=9000")
    assert second > first
    for host in HOSTS:
        assert deployment.releases(host) == [first, second]
        assert deployment.current(host) == second and deployment.running(host) == second
        assert deployment.config(host) == (
            f"# hello {second} on {host}: rendered by corral from templates/app.conf.j2\n"
            "environment = production\n"
            f"release = {second}\n"
            "replicas = 3\n"
            "port = 9000\n"
            "log_level = warning\n"
        )


def test_seven_deploys_keep_the_five_newest_releases(deployment: Deployment) -> None:
    made = [deployment.deploy() for _ in range(7)]
    assert made == sorted(made) and len(set(made)) == 7
    for host in HOSTS:
        assert deployment.releases(host) == made[2:]
        assert deployment.current(host) == made[-1]


def output_and_recap(stdout: str) -> tuple[list[str], list[str]]:
    """Split corral's stdout into the run's own lines and the recap at its end."""
    text, _, recap = stdout.partition("\nRECAP")
    return text.splitlines(), ("RECAP" + recap).splitlines() if recap else []


def test_rollback_switches_current_to_the_previous_release(deployment: Deployment) -> None:
    older = deployment.deploy()
    newer = deployment.deploy("--set", "deploy_env=production")
    proc = deployment.corral("rollback")
    assert proc.returncode == 0, proc.stderr
    lines, recap = output_and_recap(proc.stdout)
    assert lines == [
        line
        for host in HOSTS
        for line in (
            f"hello {older} reloaded: 1 replica(s), staging",
            f"{host}: rolled back from {newer} to {older}",
        )
    ]
    assert recap[:2] == ["RECAP", "host[1-2] (2)  ok=1    changed=1    failed=0    skipped=0"]
    for host in HOSTS:
        assert deployment.current(host) == older and deployment.running(host) == older
        assert deployment.releases(host) == [older, newer]  # kept: deploy again to go forward
        assert "environment = staging" in deployment.config(host)

    again = deployment.corral("rollback", hosts=("host1",))
    assert again.returncode == 1
    assert again.stderr == (
        f"corral: host1: no release before {older} to roll back to (releases: {older}, {newer})\n"
    )
    assert deployment.current("host1") == older
    named = deployment.corral("rollback", "--to", newer, hosts=("host1",))
    assert named.returncode == 0, named.stderr
    assert deployment.current("host1") == newer


def test_a_failing_task_exits_with_the_remote_status_and_one_line(
    deployment: Deployment,
) -> None:
    release = deployment.deploy(hosts=("host1",))
    (deployment.base("host1") / "running").write_text("crashed\n")  # the service died
    proc = deployment.corral("health", hosts=("host1",))
    assert proc.returncode == 3
    assert proc.stderr.splitlines() == [
        f"hello: running crashed but current is {release}: reload needed",  # hello's stderr
        f"corral: host1: command 'cd ~/{deployment.remote_root}/host1/hello/current && "
        "bin/hello health' exited with status 3",
    ]


def test_a_locked_host_refuses_deploys_until_unlocked(deployment: Deployment) -> None:
    release = deployment.deploy()
    locked = deployment.corral("lock", "--reason", "disk check", hosts=("host2",))
    assert locked.returncode == 0, locked.stderr
    proc = deployment.corral("deploy")
    assert proc.returncode == 75
    [line] = proc.stderr.splitlines()
    assert line.startswith("corral: host2: deploys are locked (locked by ")
    assert line.endswith(": disk check); the unlock task frees the host")
    assert len(deployment.releases("host1")) == 2  # host1, first in -H order, was done
    assert deployment.releases("host2") == [release]
    assert deployment.corral("unlock", hosts=("host2",)).returncode == 0
    assert deployment.deploy(hosts=("host2",)) > release


def test_a_config_the_validator_rejects_never_goes_live(deployment: Deployment) -> None:
    release = deployment.deploy(hosts=("host1",))
    proc = deployment.corral("--set", "app.replicas=0", "deploy", hosts=("host1",))
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("corral: host1: template(validate=...): ")
    assert "bin/hello check-config {path}' rejected the new content of " in lines[0]
    assert "(exit status 2); the file was left as it was" in lines[0]
    assert "FAILED" in proc.stdout  # the recap names the operation that failed
    assert deployment.releases("host1") == [release]  # no new release, no half-made one
    assert deployment.current("host1") == release == deployment.running("host1")


def test_dry_prints_the_commands_and_changes_nothing(deployment: Deployment) -> None:
    proc = deployment.corral("--dry", "deploy")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    base = f"~/{deployment.remote_root}/host2/hello"
    assert f"[host2] rm -rf -- {base}/releases/." in out
    assert f"[host2] copy_tree {base}/releases/." in out and "(not checked: --dry" in out
    assert f"[host2] template {base}/releases/." in out
    assert f"[host2] symlink {base}/current (not checked" in out
    assert f"[host2] cd {base}/current && bin/hello reload" in out
    assert not deployment.local_root.exists()


def test_check_reports_what_a_deploy_would_do_and_changes_nothing(
    deployment: Deployment,
) -> None:
    release = deployment.deploy()
    before = {host: sorted(os.listdir(deployment.base(host))) for host in HOSTS}
    proc = deployment.corral("--check", "--diff", "--set", "deploy_env=production", "deploy")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "[host1] would run: cd " in out and "bin/hello reload" in out
    assert "+environment = production\n" in out  # --diff: the config it would render
    _, recap = output_and_recap(out)
    assert recap[0] == "RECAP (check mode: nothing was changed; changed= is what would change)"
    assert any(f"would retarget releases/{release} -> releases/" in line for line in recap)
    for host in HOSTS:
        assert deployment.current(host) == release
        assert deployment.releases(host) == [release]
        assert sorted(os.listdir(deployment.base(host))) == before[host]


def test_a_failed_health_check_rolls_the_host_back_and_stops_a_rolling_deploy(
    deployment: Deployment,
) -> None:
    hosts = ("host1", "host2", "host3")
    release = deployment.deploy(hosts=hosts)
    proc = deployment.corral(
        "-P", "--batch-size", "1", "--max-failures", "0", "--set", "deploy.health=exit 3",
        "deploy", hosts=hosts,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "health check 'exit 3' failed after switching to " in proc.stdout
    assert f"rolled back to {release}" in proc.stdout
    assert "3 hosts: 0 ok, 1 failed, 2 skipped" in proc.stdout
    assert deployment.current("host1") == release == deployment.running("host1")
    assert len(deployment.releases("host1")) == 2  # the failed release stays, not live
    for host in ("host2", "host3"):  # never started: the rollout stopped at host1
        assert deployment.releases(host) == [release] and deployment.current(host) == release


def test_a_deploy_in_progress_holds_the_lock_and_shared_files_outlive_releases(
    deployment: Deployment,
) -> None:
    first = deployment.deploy(hosts=("host1",))
    lock = deployment.base("host1") / "deploy.lock"
    lock.write_text("deploying 20991231-000000-000 by someone@elsewhere since earlier\n")
    proc = deployment.corral("deploy", hosts=("host1",))
    assert proc.returncode == 75 and "deploying 20991231-000000-000 by someone" in proc.stderr
    lock.unlink()
    second = deployment.deploy(hosts=("host1",))
    assert not lock.exists()  # the deploy's own lock is gone once it is done
    log = deployment.base("host1") / "shared" / "log" / "hello.log"
    assert log.read_text() == f"reloaded {first}\nreloaded {second}\n"
    current = deployment.base("host1") / "current"
    assert os.readlink(current / "log") == "../../shared/log"


def test_list_shows_the_tasks() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "corral.cli.main", "-c", "examples/deploy/corralfile.py", "--list"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[2:] == [
        "  deploy      Deploy a release: upload, render, switch, reload, check, prune.",
        "  health      Run the health check in the current release.",
        "  lock        Refuse deploys and rollbacks on these hosts until unlock.",
        "  releases    List the releases on each host; * marks the current one.",
        "  rollback    Switch back to the previous release (or --to NAME) and reload.",
        "  unlock      Allow deploys and rollbacks again.",
    ]


def test_the_examples_own_tests_pass_with_the_pytest_plugin() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(EXAMPLE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert " passed" in proc.stdout and "skipped" not in proc.stdout


def test_a_deploy_on_the_example_inventory_gives_each_group_its_deploy_env(
    deployment: Deployment, fleet: SSHDFleet, tmp_path: Path
) -> None:
    # the example's inventory, its hosts renamed to the fleet's aliases
    text = (EXAMPLE / "inventory.yaml").read_text()
    for name, alias in zip(("web1", "web2", "web3"), (h.alias for h in fleet.hosts), strict=True):
        text = text.replace(name, alias)
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(text)
    config = load_config(
        project_dir=EXAMPLE,  # corral.yaml: deploy_env staging, the environments
        overrides={"ssh_config_path": str(fleet.ssh_config_path)},
        sets={"deploy": {"path": f"~/{deployment.remote_root}/{{host}}/hello"}},
        environ={},
    )
    plan = plan_hosts("web", sources=[str(inventory)], config=config)
    assert plan.names == ["host1", "host2", "host3"]
    collection = load_collection(EXAMPLE / "corralfile.py")
    with Executor(collection, config, plan.names, connections=plan.connections(config)) as ex:
        ex.execute("deploy")
    release = deployment.current("host1")
    assert "environment = staging\n" in deployment.config("host1")
    assert "replicas = 1\n" in deployment.config("host1")
    for host in ("host2", "host3"):
        assert deployment.current(host) == release
        assert "environment = production\nrelease = " in deployment.config(host)
        assert "replicas = 3\n" in deployment.config(host)


def test_corral_deploys_the_example_on_its_inventory_with_g(
    deployment: Deployment, fleet: SSHDFleet, tmp_path: Path
) -> None:
    """The README's `corral -G web deploy`, as a real subprocess: each group's deploy_env."""
    text = (EXAMPLE / "inventory.yaml").read_text()
    for name, alias in zip(("web1", "web2", "web3"), (h.alias for h in fleet.hosts), strict=True):
        text = text.replace(name, alias)
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(text)
    base = [
        "-c",
        "examples/deploy/corralfile.py",
        "-S",
        str(fleet.ssh_config_path),
        "-I",
        str(inventory),
        "--set",
        f"deploy.path=~/{deployment.remote_root}/{{host}}/hello",
    ]
    listed = subprocess.run(
        [sys.executable, "-m", "corral.cli.main", *base, "-G", "web:!host3", "--list-hosts"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert listed.stdout.split() == ["hosts", "(2):", "host1", "host2"], listed.stderr
    proc = subprocess.run(
        [sys.executable, "-m", "corral.cli.main", *base, "-G", "web", "-P", "deploy"],
        cwd=ROOT, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "3 hosts: 3 ok, 0 failed, 0 skipped" in proc.stdout
    assert "environment = staging\n" in deployment.config("host1")
    for host in ("host2", "host3"):
        assert "environment = production\n" in deployment.config(host)
