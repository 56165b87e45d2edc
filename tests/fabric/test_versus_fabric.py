"""The same projects under Fabric 3.2.3 and under corral, side by side on the same fleet:
exit status, output and the files written on the hosts compared. Where they differ, the
difference is one the README's migration guide names, asserted here as such."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.testing.fleet import SSHDFleet

from .conftest import Bench, Run

pytestmark = pytest.mark.needs("sshd")


def pair(bench, project: str, fabric_venv: Path) -> tuple[Bench, Bench]:
    """The project twice, unmodified: once for Fabric, once for corral."""
    return bench(project, fabric_venv=fabric_venv), bench(project)


def same(fab: Run, corral: Run) -> None:
    assert (corral.returncode, corral.stdout) == (fab.returncode, fab.stdout), (
        f"fab:\n{fab.stdout}{fab.stderr}\ncorral:\n{corral.stdout}{corral.stderr}"
    )


def test_release_deploys(bench, fabric_venv: Path) -> None:
    f, c = pair(bench, "releases", fabric_venv)
    d = bench("releases")  # corral as it is by default
    first = ["-H", "host1,host2", "deploy"]
    same(f.fab(*first), c.corral(*first))
    d.corral(*first)
    chain = ["-H", "host1", "deploy", "deploy", "current", "check", "rollback", "current"]
    fab = f.fab(*chain)
    same(fab, c.corral("--no-dedupe", *chain))  # --no-dedupe: Fabric's repeats, exactly
    assert f.files() == c.files()
    # by default, deploy's pre-task (pack) runs once for both deploys: one line fewer
    assert fab.lines[2] == "packed hello.tar.gz"
    deduped = d.corral(*chain)
    assert deduped.lines == [line for i, line in enumerate(fab.lines) if i != 2]
    assert d.files() == f.files()


def test_task_arguments_exit_and_files(bench, fabric_venv: Path) -> None:
    f, c = pair(bench, "task_args", fabric_venv)
    args = [
        "-H", "host1,host2", "upload", "notes.txt", "--tag", "a", "--tag", "b",
        "--mode", "600", "count", "--lines", "2", "download", "notes.txt",
        "probe", "/etc/passwd", "probe", "/nope",
    ]  # fmt: skip
    same(f.fab(*args), c.corral(*args))
    for args in (
        ["-H", "host1", "upload", "notes.txt"],  # Exit(message, code=3)
        ["-H", "host1", "upload", "missing.txt", "--force"],  # put: FileNotFoundError
        ["-H", "host1", "count", "--lines", "0"],  # Exit(message)
    ):
        fab, corral = f.fab(*args), c.corral(*args)
        same(fab, corral)
        assert corral.stderr == fab.stderr  # Exit's message, as Invoke prints it
    assert f.files() == c.files()
    assert sorted(p.name for p in (f.path / "downloads").rglob("*")) == sorted(
        p.name for p in (c.path / "downloads").rglob("*")
    )


def test_module_style(bench, fabric_venv: Path) -> None:
    f, c = pair(bench, "module_style", fabric_venv)
    args = ["-H", "host1", "where", "fan-out", "host1,host2", "settings", "failing"]
    same(f.fab(*args), c.corral(*args))


def test_password_logins_and_watchers(bench, fabric_venv: Path, fleet: SSHDFleet) -> None:
    f, c = pair(bench, "password_responder", fabric_venv)
    args = ["-H", "host1", "login", c.env["FABTEST_ADDRESS"], "prompt", "refused"]
    # Fabric accepts an unknown host's key; corral asks for the policy (migration guide)
    same(f.fab(*args), c.corral("--host-key-policy", "accept-new", *args))
    # sudo with the password from config, stdin at /dev/null (CI): corral answers sudo's
    # prompt; Fabric sends end-of-input first and sudo gives up ("no password was provided")
    configured = c.corral("-H", "host1", "configured")
    assert (configured.returncode, configured.lines) == (0, ["configured: root"])


def test_fabfile_package(bench, fabric_venv: Path) -> None:
    f, c = pair(bench, "package", fabric_venv)
    for args in (
        ["-H", "host1", "db.migrate", "--steps", "2", "db.bak", "web.status"],
        ["-H", "host2"],
    ):
        same(f.fab(*args), c.corral(*args))


def test_threading_group_subclasses(bench, fabric_venv: Path) -> None:
    f, c = pair(bench, "threading_group", fabric_venv)
    args = ["check", "host1,host2,host3", "audit", "host1,host2"]
    same(f.fab(*args), c.corral(*args))


def test_local_steps_dict_hosts_and_stage(bench, fabric_venv: Path) -> None:
    f, c = pair(bench, "local_dict_hosts", fabric_venv)
    for args in (["deploy"], ["-H", "host3", "deploy"]):  # pre/post: once, locally
        same(f.fab(*args), c.corral(*args))
    staged = ["stage", c.env["FABTEST_USER"], "whoami"]
    same(f.fab(*staged), c.corral("--host-key-policy", "accept-new", *staged))


def test_program_built_on_fabric(bench, fabric_venv: Path) -> None:
    f, c = pair(bench, "framework", fabric_venv)
    env = {"SHIPIT_WEB": "host1,host2"}
    ssh = ["-S", str(c.fleet.ssh_config_path)]
    for args, extra in (
        (["--stage", "prod", "-H", "web", "deploy"], {}),
        (["-H", "host3", "deploy", "roles"], {"SHIPIT_STAGE": "qa"}),
    ):
        fab = f.python("shipit.py", *ssh, *args, env={**env, **extra}, fabric=True)
        corral = c.python("-m", "corral.compat", "shipit.py", *ssh, *args, env={**env, **extra})
        same(fab, corral)


def test_real_patchwork_does_not_import_under_fabric_3(bench, fabric_venv: Path) -> None:
    """Why corral brings its own patchwork: the last release needs Invoke 1's vendored six."""
    f = bench("patchwork_helpers", fabric_venv=fabric_venv)
    run = f.python("-c", "import patchwork.files", fabric=True)
    if run.returncode == 0:  # a patchwork that imports under Fabric 3 was installed
        pytest.fail("patchwork imports under Fabric 3 here: compare the helpers side by side")
    assert "No module named 'patchwork'" in run.stderr or "six" in run.stderr


def test_corral_never_shadows_an_installed_fabric(
    bench, fabric_and_corral_venv: Path, tmp_path: Path
) -> None:
    c = bench("module_style")
    (c.path / "probe.py").write_text(
        "import fabric, invoke\n"
        "from fabric import task\n\n\n"
        "@task\n"
        "def which(c):\n"
        "    print(fabric.__file__.split('site-packages')[-1], invoke.__name__)\n"
        "    print(type(c).__module__)\n"
    )
    corral = str(fabric_and_corral_venv / "bin" / "corral")
    run = c._run([corral, "-S", str(c.fleet.ssh_config_path), "-c", "probe.py", "which"], None, 120)
    assert run.returncode == 0, run.stderr
    assert run.lines == ["/fabric/__init__.py invoke", "corral.sync.context"]
    # the fabfile's tasks are Fabric's own objects: corral runs them, with its Connection;
    # what the fabfile makes with Fabric is Fabric's, so corral says so (migration guide)
    ssh = ["-S", str(c.fleet.ssh_config_path)]
    where = c._run([corral, *ssh, "-H", "host1", "where"], None, 120)
    assert where.returncode == 0, where.stderr
    assert where.lines == ["host1: local-42 remote-42 False"]  # c: corral's, not Fabric's
    assert "fabric and invoke are installed here, so fabfile.py uses them" in where.stderr
    failing = c._run([corral, *ssh, "-H", "host1", "failing"], None, 120)
    assert failing.returncode == 4  # invoke's UnexpectedExit does not catch corral's
