"""`--executor`, `--workers`, `--ray-address` and config `executor.*`: the command runs its
hosts on the chosen executor with the same output, report, exit status and journal."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

from corral.testing.fleet import SSHDFleet

from .conftest import Invoke

SERVER = "$(echo $SSH_CONNECTION | cut -d' ' -f3)"


def test_an_adhoc_command_on_the_pool_executor_prints_prefixed_lines(
    fleet: SSHDFleet, corral_cli: Invoke
) -> None:
    hosts = ",".join(h.alias for h in fleet.hosts)
    ran = corral_cli(
        "-S", str(fleet.ssh_config_path), "-H", hosts, "-P",
        "--executor", "pool", "--workers", "2", "--", f"echo at {SERVER}",
    )  # fmt: skip
    assert ran.exit_code == 0, ran.output
    for host in fleet.hosts:
        assert f"[{host.alias}] at {host.address}" in ran.stdout


def test_tasks_run_on_the_executor_config_names_and_failures_keep_their_status(
    fleet: SSHDFleet, corral_cli: Invoke, tmp_path: Path
) -> None:
    (tmp_path / "corralfile.py").write_text(
        textwrap.dedent(
            """
            from corral import task

            @task
            def where(c, bad=""):
                address = c.run("echo $SSH_CONNECTION", hide=True).stdout.split()[2]
                if address == bad:
                    c.run("echo broken >&2; exit 4", hide=True)
                return address
            """
        )
    )
    (tmp_path / "corral.yaml").write_text("executor:\n  kind: pool\n  workers: 2\n")
    hosts = ",".join(h.alias for h in fleet.hosts)
    bad = fleet.hosts[1].address
    ran = corral_cli(
        "-S", str(fleet.ssh_config_path), "-H", hosts, "-P", "--output", "json",
        "where", "--bad", bad,
    )  # fmt: skip
    assert ran.exit_code == 4, ran.output
    rows = {row["host"]: row for row in map(json.loads, ran.stdout.splitlines())}
    assert [rows[h.alias]["status"] for h in fleet.hosts] == ["ok", "failed", "ok"]
    assert rows[fleet.hosts[1].alias]["error_type"] == "UnexpectedExit"
    assert rows[fleet.hosts[0].alias]["task"] == "where"


def test_an_unknown_executor_is_a_usage_error(fleet: SSHDFleet, corral_cli: Invoke) -> None:
    ran = corral_cli("-H", fleet.hosts[0].alias, "-P", "--executor", "nope", "--", "true")
    assert ran.exit_code == 2
    assert "nope" in ran.output


def test_hosts_of_a_dead_worker_are_failed_and_rerun_failed_runs_them(
    fleet: SSHDFleet, corral_cli: Invoke, tmp_path: Path
) -> None:
    marker = tmp_path / "died-once"
    (tmp_path / "corralfile.py").write_text(
        textwrap.dedent(
            f"""
            import os, signal, time
            from corral import task

            @task
            def fragile(c):
                if not os.path.exists({str(marker)!r}):  # the worker dies, once
                    open({str(marker)!r}, "w").close()
                    os.kill(os.getpid(), signal.SIGKILL)
                return c.run("echo fine", hide=True).stdout.strip()
            """
        )
    )
    hosts = ",".join(h.alias for h in fleet.hosts)
    common = ["-S", str(fleet.ssh_config_path), "-H", hosts, "-P", "--output", "jsonl"]
    ran = corral_cli(*common, "--executor", "pool", "--workers", "1", "fragile")
    assert ran.exit_code == 1, ran.output
    events = [json.loads(line) for line in ran.stdout.splitlines()]
    finished = [e for e in events if e["type"] == "host_finished"]
    assert {(e["host"], e["status"], e["error_type"]) for e in finished} == {
        (h.alias, "failed", "ControllerLost") for h in fleet.hosts
    }
    assert all("controller lost" in e["error"] for e in finished)
    rerun = corral_cli(
        "-S", str(fleet.ssh_config_path), "-P", "--output", "jsonl", "--rerun-failed"
    )
    assert rerun.exit_code == 0, rerun.output
    again = [json.loads(line) for line in rerun.stdout.splitlines()]
    assert sorted(e["host"] for e in again if e["type"] == "host_finished") == sorted(
        h.alias for h in fleet.hosts
    )
    assert {e["status"] for e in again if e["type"] == "host_finished"} == {"ok"}
