"""Each Fabric-style project under corral against the real-sshd fleet: unmodified (corral
stands in for fabric, invoke and patchwork, which are not installed here) and with its
imports switched to corral. Every item of issue 11 a project exercises is asserted on what
it printed, its exit status, and what it left on the hosts."""

from __future__ import annotations

import pytest

from corral.testing.fleet import SSHDFleet

from .conftest import Bench

pytestmark = pytest.mark.needs("sshd")

MODES = pytest.mark.parametrize("switched", [False, True], ids=["unmodified", "switched"])


def ok(run: object) -> None:
    assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"  # type: ignore[attr-defined]


@MODES
def test_release_deploys_switch_keep_and_roll_back(bench, switched: bool) -> None:
    b: Bench = bench("releases", switched=switched)
    first = b.corral("-H", "host1,host2", "deploy")
    ok(first)
    # pack is deploy's pre-task: once, here, not once per host (issue 11 item 2)
    assert first.lines == [
        "packed hello.tar.gz",
        "host1: release 001 is live",
        "host2: release 001 is live",
    ]
    again = b.corral("-H", "host1", "deploy", "deploy", "current", "check", "rollback", "current")
    ok(again)
    # deploy named twice runs twice; its shared pre-task once (--no-dedupe: each time)
    assert again.lines == [
        "packed hello.tar.gz",
        "host1: release 002 is live",
        "host1: release 003 is live",
        "host1: 003",
        "host1: check ok",
        "host1: rolled back to 002",
        "host1: 002",
    ]
    files = b.files()
    # fabric.yaml next to the fabfile: deploy.keep (2 releases) and deploy.secret
    releases = {tuple(n.split("/")[:4:3]) for n in files if "/hello/releases/" in n}
    assert releases == {("host1", "002"), ("host1", "003"), ("host2", "001")}
    assert files["host1/hello/current"] == "-> releases/002"
    assert files["host1/hello/shared/env"] == "secret=from-fabric-yaml\n"
    assert files["host1/hello/releases/003/bin/hello"].startswith("#!/bin/sh")


@MODES
def test_fabric_config_files_and_variables_are_read_below_corrals(bench, switched: bool) -> None:
    b: Bench = bench("releases", switched=switched)
    (b.path / "corral.yaml").write_text("deploy:\n  secret: from-corral-yaml\n")
    run = b.corral("-H", "host1", "setup", env={"FABRIC_DEPLOY_KEEP": "1"})
    ok(run)
    assert b.files()["host1/hello/shared/env"] == "secret=from-corral-yaml\n"  # corral's wins
    shown = b.corral("-H", "host1", "--echo", "setup", env={"FABRIC_RUN_ECHO": "0"})
    assert "mkdir -p" in shown.stdout  # the flag beats the variable


@MODES
def test_task_arguments_and_files_both_ways(bench, switched: bool) -> None:
    b: Bench = bench("task_args", switched=switched)
    run = b.corral(
        "-H", "host1,host2",
        "upload", "notes.txt", "--tag", "a", "--tag", "b", "--mode", "600",
        "count", "--lines", "2",
        "download", "notes.txt",
        "probe", "/etc/passwd", "probe", "/nope",
    )  # fmt: skip
    ok(run)
    assert run.lines == [
        "host1: uploaded notes.txt (600, tags: a,b)",
        "host2: uploaded notes.txt (600, tags: a,b)",
        "host1: 2 int",
        "host2: 2 int",
        "host1: got notes.txt: first file",
        "host2: got notes.txt: first file",
        "host1: /etc/passwd present",
        "host2: /etc/passwd present",
        "host1: /nope missing (1)",
        "host2: /nope missing (1)",
    ]
    assert (b.path / "downloads" / "host2" / "notes.txt").read_text() == "first file\n"
    assert b.files()["host1/files/notes.txt.tags"] == "a\nb\n"
    exists = b.corral("-H", "host1", "upload", "notes.txt")
    assert (exists.returncode, exists.stderr) == (
        3,
        "host1: notes.txt is there already (give --force)\n",
    )
    # put of a missing file: corral's error is a FileNotFoundError too, as the fabfile expects
    missing = b.corral("-H", "host1", "upload", "missing.txt", "--force")
    assert (missing.returncode, missing.stderr) == (1, "no such file here: files/missing.txt\n")
    zero = b.corral("-H", "host1", "count", "--lines", "0")
    assert (zero.returncode, zero.stderr) == (1, "lines must be at least 1\n")


@MODES
def test_patchwork_helpers_are_idempotent(bench, fleet: SSHDFleet, switched: bool) -> None:
    b: Bench = bench("patchwork_helpers", switched=switched)
    run = b.corral(
        "-H", "host1,host2", "provision", "facts", "root-dir",
        env={"FABRIC_SUDO_PASSWORD": fleet.password},  # Fabric's variable, read for a fabfile
    )  # fmt: skip
    ok(run)
    assert run.lines[:2] == ["host1: 2 lines, mode 750", "host2: 2 lines, mode 750"]
    assert run.lines[2:11] == [
        "host1: conf exists: True",
        "host1: home exists (~): True",
        "host1: nothing at ~/nope: True",
        "host1: port line: True",
        "host1: partial: True",
        "host1: regex: True",
        "host1: has sh: True",
        "host1: has nope: False",
        "host1: family: debian",
    ]
    assert run.lines[-2:] == ["host1: root:700", "host2: root:700"]
    assert b.files()["host1/etc/app/app.conf"] == "port = 8080\nname = it's me\n"


@MODES
def test_module_style_imports(bench, switched: bool) -> None:
    b: Bench = bench("module_style", switched=switched)
    run = b.corral("-H", "host1", "where", "fan-out", "host1,host2", "settings", "failing")
    ok(run)
    assert run.lines == [
        "host1: local-42 remote-42 True",
        "host1: ok",
        "host2: ok",
        "one: single",
        "replicas: 3, echo: False",
        "context: from-context True",
        "host1: caught 4",
        "local: caught 5",
    ]


@MODES
def test_password_logins_and_watchers(bench, fleet: SSHDFleet, switched: bool) -> None:
    b: Bench = bench("password_responder", switched=switched)
    address = b.env["FABTEST_ADDRESS"]
    refused = b.corral("-H", "host1", "login", address)
    # host keys stay strict: an address no known_hosts names is refused, saying what to do
    assert refused.returncode == 1
    assert "unknown host key" in refused.stderr.lower(), refused.stderr
    run = b.corral(
        "--host-key-policy", "accept-new", "-H", "host1",
        "login", address, "prompt", "refused", "configured",
    )  # fmt: skip
    ok(run)
    assert run.lines == [
        "login: corral-test",
        "prompt: root",
        "refused: Failure",
        "configured: root",
    ]
    assert fleet.password not in run.stdout + run.stderr


@MODES
def test_fabfile_package_namespaces_and_sibling_imports(bench, switched: bool) -> None:
    b: Bench = bench("package", switched=switched)
    listing = b.corral("--list")
    ok(listing)
    assert "db.backup (db.bak)" in listing.stdout and "Default task: deploy" in listing.stdout
    run = b.corral("-H", "host1", "db.migrate", "--steps", "2", "db.bak", "web.status")
    ok(run)
    assert run.lines == [
        "host1: example migrated 2",
        "host1: example backed up",
        "host1: example up",
    ]
    default = b.corral("-H", "host1")
    ok(default)
    assert default.lines == [
        "host1: example migrated 1",
        "host1: example restarted with 2 workers",
        "host1: example deployed",
    ]


@MODES
def test_threading_group_and_connection_subclasses(bench, switched: bool) -> None:
    b: Bench = bench("threading_group", switched=switched)
    run = b.corral("check", "host1,host2,host3", "audit", "host1,host2")
    ok(run)
    assert run.lines == [
        "answering: host1,host2,host3",
        "marked: host1; not: host2,host3",
        "True ['audited', 'audited']",
        "log: ['host1: echo audited', 'host2: echo audited']",
    ]


@MODES
def test_local_steps_dict_hosts_and_stage_settings(bench, switched: bool) -> None:
    b: Bench = bench("local_dict_hosts", switched=switched)
    run = b.corral("deploy")
    ok(run)
    assert run.lines == [
        "build: built-42 (Context)",
        "deploy: host1 as corral-test",
        "deploy: host2 as corral-test",
        "notify: (Context)",
    ]
    # -H replaces the task's hosts, not where its pre- and post-tasks run
    dash_h = b.corral("-H", "host3", "deploy")
    ok(dash_h)
    assert dash_h.lines == [
        "build: built-42 (Context)",
        "deploy: host3 as corral-test",
        "notify: (Context)",
    ]
    # a local task's c.user and c.connect_kwargs reach the next task's host (no ssh_config)
    staged = b.corral("--host-key-policy", "accept-new", "stage", b.env["FABTEST_USER"], "whoami")
    ok(staged)
    assert staged.lines == ["whoami: corral-test stage=production"]
    unstaged = b.corral("--host-key-policy", "accept-new", "whoami")
    assert unstaged.returncode == 1  # as root, with no key: refused


@MODES
def test_program_built_on_fabric(bench, switched: bool) -> None:
    b: Bench = bench("framework", switched=switched)
    start = [] if switched else ["-m", "corral.compat"]  # unmodified: corral stands in
    ssh = ["-S", str(b.fleet.ssh_config_path)]
    env = {"SHIPIT_WEB": "host1,host2"}
    run = b.python(*start, "shipit.py", *ssh, "--stage", "prod", "-H", "web", "deploy", env=env)
    ok(run)
    assert run.lines == ["host1: shipping to prod", "host2: shipping to prod"]
    qa = b.python(
        *start, "shipit.py", *ssh, "-H", "host3", "deploy", "roles",
        env={**env, "SHIPIT_STAGE": "qa"},  # the program's own variables (Config.prefix)
    )  # fmt: skip
    ok(qa)
    assert qa.lines == ["host3: shipping to qa", "web: host1,host2"]
    version = b.python(*start, "shipit.py", "--version", env=env)
    assert (version.returncode, version.stdout) == (0, "shipit 1.0\n")
