"""Every `corral` run is recorded in the journal: real runs against the sshd fleet, then the
SQLite file read back with sqlite3 (not through corral), and the commands that use it:
`--rerun-failed`, `@failed`, `history`, `show`, `journal check|vacuum|prune`."""

from __future__ import annotations

import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from corral.testing.fleet import SSHDFleet
from corral.testing.inventory import write_fleet_inventory

CORRALFILE = """
from corral import Secret, task

@task
def mark(c, tag):
    "Leave ~/marks/TAG-HOST, then fail where ~/fail-TAG-HOST exists."
    c.run(f"mkdir -p ~/marks && touch ~/marks/{tag}-{c.original_host}")
    c.run(f"echo marked {c.original_host}")
    c.run(f"if [ -e ~/fail-{tag}-{c.original_host} ]; then echo 'service failed' >&2; exit 4; fi")

@task
def second(c):
    c.run("echo second")

@task
def secret(c, token_file):
    token = open(token_file).read().strip()
    c.run("echo token=$API_TOKEN", env={"API_TOKEN": Secret(token)})
    c.sudo("echo sudo ran", hide=True)

@task
def slow(c, marker):
    c.run(f"echo started; sleep {marker}")
"""


def corral(
    cwd: Path, state: Path, *args: str, timeout: float = 90, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "corral.cli.main", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "XDG_STATE_HOME": str(state), **(env or {})},
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "corralfile.py").write_text(textwrap.dedent(CORRALFILE))
    return tmp_path


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


def journal_path(state: Path) -> Path:
    return state / "corral" / "journal.db"


def runs(state: Path) -> list[dict[str, Any]]:
    """Every run of the journal file, oldest first, with its hosts (read with sqlite3)."""
    with sqlite3.connect(journal_path(state)) as db:
        db.row_factory = sqlite3.Row
        found = [dict(r) for r in db.execute("SELECT * FROM runs ORDER BY started_at")]
        for run in found:
            rows = db.execute(
                "SELECT * FROM run_hosts WHERE run_id = ? ORDER BY position", (run["run_id"],)
            )
            run["hosts"] = {r["host"]: dict(r) for r in rows}
            for host in run["hosts"].values():
                host["output"] = json.loads(host["output"])
            run["argv"] = json.loads(run["argv"])
            run["config"] = json.loads(run["config"])
    return found


def _tag() -> str:
    return f"t{secrets.token_hex(4)}"


def _marks(fleet: SSHDFleet, tag: str) -> list[str]:
    out = fleet.run_as_user(f"cd ~/marks 2>/dev/null && ls {tag}-* 2>/dev/null || true").stdout
    return sorted(name.removeprefix(f"{tag}-") for name in out.split())


def _fail(fleet: SSHDFleet, tag: str, host: str, *, on: bool = True) -> None:
    fleet.run_as_user(f"{'touch' if on else 'rm -f'} ~/fail-{tag}-{host}")


def _hosts(fleet: SSHDFleet) -> str:
    return ",".join(h.alias for h in fleet.hosts)


def test_a_serial_ad_hoc_run_is_recorded_with_each_hosts_outcome_and_output(
    project: Path, state: Path, fleet: SSHDFleet
) -> None:
    first, second, third = fleet.hosts
    command = (
        f'set -- $SSH_CONNECTION; echo "at $3"; '
        f'[ "$3" = {second.address} ] && {{ echo bad >&2; exit 3; }}; true'
    )
    proc = corral(project, state, "-S", str(fleet.ssh_config_path), "-H", _hosts(fleet),
                  "--", command)  # fmt: skip
    assert proc.returncode == 3, proc.stderr
    (run,) = runs(state)
    assert run["status"] == "failed" and run["exit_status"] == 3
    assert run["command"] == command and run["what"] == command
    assert run["selection"] == f"-H {_hosts(fleet)}"
    assert run["argv"][-2:] == ["--", command] and run["argv"][0] == "corral"
    assert (run["n_ok"], run["n_failed"], run["n_skipped"]) == (1, 1, 1)
    hosts = run["hosts"]
    assert list(hosts) == [first.alias, second.alias, third.alias]
    assert hosts[first.alias]["status"] == "ok" and hosts[first.alias]["exit_code"] == 0
    assert hosts[first.alias]["output"] == [["stdout", f"at {first.address}"]]
    failed = hosts[second.alias]
    assert failed["status"] == "failed" and failed["exit_code"] == 3
    assert failed["error_type"] == "UnexpectedExit" and "exited with status 3" in failed["error"]
    assert failed["output"] == [["stdout", f"at {second.address}"], ["stderr", "bad"]]
    never = hosts[third.alias]
    assert never["status"] == "skipped" and never["started_at"] is None
    assert never["error"].startswith("not reached")


def test_a_parallel_task_run_is_recorded_per_host_with_its_task(
    project: Path, state: Path, fleet: SSHDFleet
) -> None:
    tag = _tag()
    _fail(fleet, tag, fleet.hosts[1].alias)
    proc = corral(project, state, "-S", str(fleet.ssh_config_path), "-H", _hosts(fleet), "-P",
                  "mark", tag)  # fmt: skip
    assert proc.returncode == 4, proc.stderr
    (run,) = runs(state)
    assert run["status"] == "failed" and json.loads(run["tasks"]) == ["mark"]
    assert run["config"]["parallel"] is True and run["config"]["task_words"] == ["mark", tag]
    statuses = {h: r["status"] for h, r in run["hosts"].items()}
    assert statuses == {fleet.hosts[0].alias: "ok", fleet.hosts[1].alias: "failed",
                        fleet.hosts[2].alias: "ok"}  # fmt: skip
    for alias, host in run["hosts"].items():
        assert host["task"] == "mark"
        assert ["stdout", f"marked {alias}"] in host["output"]
        assert host["duration"] > 0 and host["finished_at"] >= host["started_at"]
    assert ["stderr", "service failed"] in run["hosts"][fleet.hosts[1].alias]["output"]


def test_hosts_a_stopped_serial_run_never_reached_are_recorded_as_skipped(
    project: Path, state: Path, fleet: SSHDFleet
) -> None:
    tag = _tag()
    first, bad, third = (h.alias for h in fleet.hosts)
    _fail(fleet, tag, bad)
    proc = corral(project, state, "-S", str(fleet.ssh_config_path), "-H", _hosts(fleet),
                  "mark", tag, "second")  # fmt: skip
    assert proc.returncode == 4
    (run,) = runs(state)
    hosts = run["hosts"]
    assert hosts[bad]["status"] == "failed" and hosts[bad]["task"] == "mark"
    # the first host's mark went well, but `second` never ran there: not done
    assert hosts[first]["status"] == "skipped" and hosts[first]["task"] == "second"
    assert hosts[third]["status"] == "skipped" and hosts[third]["task"] == "mark"
    assert _marks(fleet, tag) == [first, bad]


def test_rerun_failed_runs_the_same_task_on_exactly_the_failed_and_unreached_hosts(
    project: Path, state: Path, fleet: SSHDFleet
) -> None:
    tag = _tag()
    first, bad, third = (h.alias for h in fleet.hosts)
    _fail(fleet, tag, bad)
    ssh = ["-S", str(fleet.ssh_config_path)]
    assert corral(project, state, *ssh, "-H", _hosts(fleet), "mark", tag).returncode == 4
    assert _marks(fleet, tag) == [first, bad]
    _fail(fleet, tag, bad, on=False)
    fleet.run_as_user(f"rm -f ~/marks/{tag}-*")
    proc = corral(project, state, *ssh, "--rerun-failed")
    assert proc.returncode == 0, proc.stderr
    assert _marks(fleet, tag) == [bad, third]  # not the first host: it was done
    before, rerun = runs(state)
    assert rerun["config"]["rerun_of"] == before["run_id"]
    assert rerun["selection"] == f"--rerun-failed {before['run_id']}"
    assert list(rerun["hosts"]) == [bad, third] and rerun["status"] == "ok"
    # nothing failed in the rerun: nothing left to rerun
    again = corral(project, state, *ssh, "--rerun-failed")
    assert again.returncode == 1
    assert "has no failed or unreached host: nothing to rerun" in again.stderr


def test_rerun_failed_of_a_given_run_with_another_command(
    project: Path, state: Path, fleet: SSHDFleet
) -> None:
    tag = _tag()
    first, bad, _third = (h.alias for h in fleet.hosts)
    _fail(fleet, tag, bad)
    ssh = ["-S", str(fleet.ssh_config_path)]
    assert corral(project, state, *ssh, "-H", _hosts(fleet), "-P", "mark", tag).returncode == 4
    run_id = runs(state)[0]["run_id"]
    assert corral(project, state, *ssh, "-H", first, "--", "true").returncode == 0  # later
    proc = corral(project, state, *ssh, "--rerun-failed", run_id[-6:], "--", "echo again")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "again\n"
    last = runs(state)[-1]
    assert list(last["hosts"]) == [bad] and last["command"] == "echo again"
    assert corral(project, state, *ssh, "--rerun-failed", "-H", first, "--", "true").returncode == 2


def test_at_failed_selects_a_runs_failed_hosts_in_any_selection(
    project: Path, state: Path, fleet: SSHDFleet, tmp_path: Path
) -> None:
    tag = _tag()
    first, bad, third = (h.alias for h in fleet.hosts)
    _fail(fleet, tag, bad)
    ssh = ["-S", str(fleet.ssh_config_path)]
    assert corral(project, state, *ssh, "-H", _hosts(fleet), "mark", tag).returncode == 4
    failed_run = runs(state)[0]["run_id"]
    listed = corral(project, state, *ssh, "-H", f"@failed,{first}", "--list-hosts")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["hosts", "(3):", bad, third, first]
    assert corral(project, state, *ssh, "-H", first, "--", "true").returncode == 0
    # @failed is now the latest run's (none failed): @failed:RUN names the earlier one
    empty = corral(project, state, *ssh, "-H", "@failed", "--list-hosts")
    assert empty.returncode == 1 and "has no failed or unreached host" in empty.stderr
    inventory = write_fleet_inventory(fleet, tmp_path / "inventory.yaml")  # web: odd hosts
    pattern = f"@failed:{failed_run[-6:]}:&web"
    proc = corral(project, state, *ssh, "-I", str(inventory), "-G", pattern, "--", "echo ran")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ran\n"  # host3 only: failed-or-unreached and in web
    assert list(runs(state)[-1]["hosts"]) == [third]


@pytest.mark.parametrize("parallel", [False, True], ids=["serial", "parallel"])
def test_an_interrupted_run_is_recorded_as_interrupted_with_the_partial_output(
    project: Path, state: Path, fleet: SSHDFleet, parallel: bool
) -> None:
    marker = f"63.{secrets.randbelow(10**6):06d}"
    args = ["-S", str(fleet.ssh_config_path), "-H", _hosts(fleet), *(["-P"] if parallel else [])]
    proc = subprocess.Popen(
        [sys.executable, "-m", "corral.cli.main", *args, "slow", marker],
        cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL, env={**os.environ, "XDG_STATE_HOME": str(state)},
    )  # fmt: skip
    running = 3 if parallel else 1
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            found = fleet.run_as_user(f"pgrep -f '[e]cho started; sleep {marker}' | wc -l")
            if int(found.stdout.strip()) >= running:
                break
            time.sleep(0.1)
        time.sleep(0.3)  # its "started" line is on its way
        os.kill(proc.pid, signal.SIGTERM)
        proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 143
    (run,) = runs(state)
    assert run["status"] == "interrupted" and run["exit_status"] == 143
    hosts = list(run["hosts"].values())
    stopped = hosts if parallel else hosts[:1]
    for host in stopped:
        assert host["status"] == "interrupted", host
        assert host["output"] == [["stdout", "started"]]
        assert "interrupted while running" in host["error"]
    for host in hosts[len(stopped) :]:
        assert host["status"] == "skipped" and host["started_at"] is None


def test_secrets_never_reach_the_journal_or_the_events(
    project: Path, state: Path, fleet: SSHDFleet, tmp_path: Path
) -> None:
    password = fleet.password  # the login user's sudo password
    token = f"tok-{secrets.token_hex(8)}"
    env_token = f"env-{secrets.token_hex(8)}"
    token_file = tmp_path / "token"
    token_file.write_text(token)
    proc = corral(
        project, state, "-S", str(fleet.ssh_config_path), "-H", fleet.hosts[0].alias,
        "--set", f"sudo.password={password}", "--set", f"run.env.DEPLOY_KEY={env_token}",
        "--output", "jsonl", "secret", "--token-file", str(token_file),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    events = [json.loads(line) for line in proc.stdout.splitlines()]
    assert events[0]["type"] == "run_started" and events[-1]["type"] == "run_finished"
    assert {"type": "output_line", "text": "token=****"}.items() <= next(
        e for e in events if e["type"] == "output_line" and e["text"].startswith("token")
    ).items()
    stored = b"".join(p.read_bytes() for p in journal_path(state).parent.iterdir() if p.is_file())
    for secret in (password, token, env_token):
        assert secret not in proc.stdout and secret not in proc.stderr
        assert secret.encode() not in stored
    (run,) = runs(state)
    assert "sudo.password=****" in run["argv"] and "run.env.DEPLOY_KEY=****" in run["argv"]
    assert ["stdout", "token=****"] in run["hosts"][fleet.hosts[0].alias]["output"]


def test_the_journal_can_be_switched_off(project: Path, state: Path, fleet: SSHDFleet) -> None:
    proc = corral(project, state, "-S", str(fleet.ssh_config_path), "-H", fleet.hosts[0].alias,
                  "--set", "journal.enabled=false", "--", "true")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert not journal_path(state).exists()


def test_a_journal_that_cannot_be_written_gives_one_warning_and_the_run_goes_on(
    project: Path, state: Path, fleet: SSHDFleet
) -> None:
    journal_path(state).parent.mkdir(parents=True)
    journal_path(state).write_bytes(b"this is not a database\n" * 100)
    proc = corral(project, state, "-S", str(fleet.ssh_config_path), "-H", _hosts(fleet), "-P",
                  "--", "echo fine")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    warnings = [line for line in proc.stderr.splitlines() if "warning: journal" in line]
    assert len(warnings) == 1, proc.stderr
    assert "not a journal database (damaged?)" in warnings[0] and "(the run goes on)" in warnings[0]
    assert proc.stdout.count("fine") == 4  # three live lines, and the folded block
    assert "3 hosts: 3 ok" in proc.stdout


def test_history_show_and_journal_maintenance_read_real_runs(
    project: Path, state: Path, fleet: SSHDFleet
) -> None:
    tag = _tag()
    first, bad, _third = (h.alias for h in fleet.hosts)
    _fail(fleet, tag, bad)
    ssh = ["-S", str(fleet.ssh_config_path)]
    corral(project, state, *ssh, "-H", _hosts(fleet), "-P", "mark", tag)
    corral(project, state, *ssh, "-H", first, "--", "echo adhoc")
    history = corral(project, state, "history", "--output", "json")
    assert history.returncode == 0, history.stderr
    listed = [json.loads(line) for line in history.stdout.splitlines()]
    assert [r["what"] for r in listed] == ["echo adhoc", "mark"]
    assert listed[1]["counts"] == {"ok": 2, "failed": 1, "skipped": 0, "interrupted": 0}
    by_host = corral(project, state, "history", "--host", bad, "--status", "failed",
                     "--output", "json")  # fmt: skip
    assert [json.loads(line)["what"] for line in by_host.stdout.splitlines()] == ["mark"]
    by_task = corral(project, state, "history", "--task", "adhoc")
    assert "echo adhoc" in by_task.stdout and "mark" not in by_task.stdout
    table = corral(project, state, "history")
    assert table.stdout.splitlines()[0].split()[:4] == ["RUN", "STARTED", "USER", "WHAT"]
    shown = corral(project, state, "show", listed[1]["run_id"][-6:], "--output", "json")
    detail = json.loads(shown.stdout)
    assert detail["summary"]["status"] == "failed"
    failing = next(h for h in detail["hosts"] if h["host"] == bad)
    assert failing["error_type"] == "UnexpectedExit" and failing["exit_code"] == 4
    text = corral(project, state, "show")  # the latest run
    assert text.stdout.startswith(f"run {listed[0]['run_id']}: ok")
    assert corral(project, state, "journal", "check").returncode == 0
    pruned = corral(project, state, "journal", "prune", "--older-than", "30d")
    assert pruned.returncode == 0 and "0 runs older than 30d deleted" in pruned.stdout
    assert corral(project, state, "journal", "vacuum").returncode == 0
    gone = corral(project, state, "journal", "prune", "--older-than", "0s")
    assert "2 runs older than 0s deleted" in gone.stdout
    assert corral(project, state, "history").stdout.startswith("no runs recorded")
