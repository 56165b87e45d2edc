"""`--output json` and `--output jsonl` in every mode, against the sshd fleet: stdout holds
JSON only (what a task prints, the hosts' output, echo: all on stderr), parsed line by line;
and the live view of a group call, on a real terminal (a pty)."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from corral.testing.fleet import SSHDFleet

CORRALFILE = """
from corral import task

@task
def chatty(c, bad=""):
    print("a task's own print")
    c.run("echo from the host; echo to stderr >&2")
    c.run("echo hidden detail", hide=True)
    if c.original_host in bad.split(","):
        c.run("exit 5")
"""


def corral(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "corral.cli.main", *args],
        cwd=cwd, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL,
        env={**os.environ, "XDG_STATE_HOME": str(cwd / "state")},
    )  # fmt: skip


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "corralfile.py").write_text(textwrap.dedent(CORRALFILE))
    return tmp_path


def _hosts(fleet: SSHDFleet) -> str:
    return ",".join(h.alias for h in fleet.hosts)


def _json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines()]  # every line is JSON, or it fails


@pytest.mark.parametrize("mode", [[], ["-P"]], ids=["serial", "parallel"])
def test_json_output_is_one_object_per_host_and_stdout_holds_only_json(
    project: Path, fleet: SSHDFleet, mode: list[str]
) -> None:
    bad = fleet.hosts[1].alias
    proc = corral(project, "-S", str(fleet.ssh_config_path), "-H", _hosts(fleet), *mode,
                  "--output", "json", "chatty", "--bad", bad)  # fmt: skip
    assert proc.returncode == 5
    records = {r["host"]: r for r in _json_lines(proc.stdout)}
    assert list(records) == [h.alias for h in fleet.hosts]
    ok = records[fleet.hosts[0].alias]
    assert ok["status"] == "ok" and ok["ok"] is True and ok["task"] == "chatty"
    assert ok["stdout"] == "from the host\nhidden detail\n" and ok["stderr"] == "to stderr\n"
    failed = records[bad]
    assert failed["status"] == "failed" and failed["exited"] == 5
    assert failed["error_type"] == "UnexpectedExit"
    last = records[fleet.hosts[2].alias]
    if mode:  # every host ran at once
        assert last["status"] == "ok"
    else:  # host by host, the run stopped at the failure
        assert last["status"] == "skipped" and last["skipped"] is True
    assert len({r["run_id"] for r in records.values()}) == 1
    assert "a task's own print" in proc.stderr and "from the host" in proc.stderr
    assert "hidden detail" not in proc.stderr  # hidden stays hidden; recorded all the same


def test_json_output_of_an_ad_hoc_command_without_parallel(project: Path, fleet: SSHDFleet) -> None:
    proc = corral(project, "-S", str(fleet.ssh_config_path), "-H", _hosts(fleet),
                  "--output", "json", "--", "echo $SSH_CONNECTION | cut -d' ' -f3")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    records = _json_lines(proc.stdout)
    assert [(r["host"], r["stdout"], r["exited"]) for r in records] == [
        (h.alias, f"{h.address}\n", 0) for h in fleet.hosts
    ]
    assert all(r["task"] is None and r["error"] is None for r in records)


def test_jsonl_output_streams_every_event_of_the_run(project: Path, fleet: SSHDFleet) -> None:
    proc = corral(project, "-S", str(fleet.ssh_config_path), "-H", _hosts(fleet), "-P",
                  "--output", "jsonl", "chatty")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    events = _json_lines(proc.stdout)
    kinds = [e["type"] for e in events]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    started = events[0]
    assert started["tasks"] == ["chatty"] and started["hosts"] == [h.alias for h in fleet.hosts]
    assert started["argv"][0] == "corral" and started["selection"] == f"-H {_hosts(fleet)}"
    assert {e["run_id"] for e in events} == {started["run_id"]}
    for host in fleet.hosts:
        mine = [e for e in events if e.get("host") == host.alias]
        kinds_of_host = [e["type"] for e in mine]
        assert kinds_of_host[0] == "host_started" and kinds_of_host[-1] == "host_finished"
        lines = [(e["stream"], e["text"], e["hidden"]) for e in mine if e["type"] == "output_line"]
        assert sorted(lines) == [
            ("stderr", "to stderr", False),
            ("stdout", "from the host", False),
            ("stdout", "hidden detail", True),
        ]
    assert events[-1]["counts"] == {"ok": 3, "failed": 0, "skipped": 0, "interrupted": 0}
    assert events[-1]["exit_status"] == 0


def test_the_live_view_on_a_terminal_shows_the_hosts_by_state(
    project: Path, fleet: SSHDFleet
) -> None:
    primary, secondary = pty.openpty()  # stderr is a terminal: the live view is drawn there
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "corral.cli.main", "-S", str(fleet.ssh_config_path),
             "-H", _hosts(fleet), "--batch-size", "1", "--", "sleep 0.6; echo done"],
            cwd=project, stdout=subprocess.PIPE, stderr=secondary, text=True, timeout=90,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "XDG_STATE_HOME": str(project / "state"), "COLUMNS": "120",
                 "TERM": "xterm"},
        )  # fmt: skip
        os.close(secondary)
        secondary = -1
        drawn = b""
        while True:
            try:
                chunk = os.read(primary, 65536)
            except OSError:
                break
            if not chunk:
                break
            drawn += chunk
    finally:
        os.close(primary)
        if secondary >= 0:
            os.close(secondary)
    assert proc.returncode == 0
    screen = drawn.decode(errors="replace")
    assert "3/3 done" in screen and "3 ok" in screen
    assert "batch 1/3: host1" in screen
    assert "host[1-3] (3):\n    done\n" in proc.stdout  # the report, on stdout
