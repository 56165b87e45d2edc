"""The README's first command: `corral --demo`, as a real subprocess: the tour, the deploy
example against the fleet, a rolling deploy with a failing host, and a clean stop (Ctrl-C too)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = [sys.executable, "-m", "corral.cli.main", "--demo"]


def _fleet_directory(out: str) -> Path:
    match = re.search(r"ssh_config: (\S+)/ssh_config", out)
    assert match, out
    return Path(match.group(1))


def _processes_mentioning(text: str) -> list[int]:
    """PIDs whose command line mentions `text` (a fleet's directory: its sshd or server)."""
    found = []
    for name in os.listdir("/proc"):
        if name.isdigit() and int(name) != os.getpid():
            try:
                cmdline = Path(f"/proc/{name}/cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if text.encode() in cmdline:
                found.append(int(name))
    return found


@pytest.mark.timeout(330)  # a tour of about 40 corral runs: minutes on a loaded machine
@pytest.mark.parametrize("extra", [[], ["--demo-embedded"]])
def test_demo_runs_the_tour_and_stops_its_fleet(extra: list[str]) -> None:
    proc = subprocess.run(
        [*DEMO, *extra], capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    server = "embedded SSH server" if extra else "OpenSSH sshd"
    assert f"served by corral's {server}" in out or f"served by {server}" in out
    assert "exited with status 3" in out and "disk quota exceeded" in out
    assert "timed out after 1 s" in out
    assert "'sleep 299' processes left on host1: none" in out
    assert "unknown host key" in out

    # the deploy example, run with the corral command against the fleet
    lines = out.splitlines()
    release = r"\d{8}-\d{6}-\d{3}"
    assert "$ corral -H host1,host2,host3 deploy" in lines
    reloaded = re.compile(f"hello {release} reloaded: 1 replica\\(s\\), staging")
    assert len([line for line in lines if reloaded.fullmatch(line)]) == 3 + 3  # deploy, rollback
    assert "    environment = staging" in lines and "    banner = STAGING: test data only" in lines
    assert "$ corral -H host1,host2,host3 -P --set deploy_env=production deploy" in lines
    assert "host[1-3] (3):" in lines  # the parallel deploy's report groups identical output
    assert "    environment = production" in lines and "    replicas = 3" in lines
    assert "3 hosts: 3 ok, 0 failed, 0 skipped" in out
    rolled = re.compile(f"host[123]: rolled back from {release} to {release}")
    assert len([line for line in lines if rolled.fullmatch(line)]) == 3

    # the rolling deploy: host1 done, host2 locked (fails), host3 never started
    assert "$ corral -H host2 lock --reason 'alice is debugging it'" in lines
    assert "$ corral -H host1,host2,host3 -P --batch-size 1 --max-failures 0 deploy" in lines
    assert re.search(f"^\\[host1\\] hello {release} reloaded", out, re.MULTILINE)
    failed = r"^host2: deploys are locked \(locked by .*?alice is debugging it\)"
    assert re.search(failed, out, re.MULTILINE | re.DOTALL)  # the report (lines wrap at 80)
    assert "host2 (1)  ok=0    changed=0    failed=0    skipped=0  host failed" in lines
    assert "host3 (1): not started: 1 host(s) failed" in out
    assert "3 hosts: 1 ok, 1 failed, 1 skipped" in out
    assert "-> corral exited with status 75" in out

    assert lines[-1] == "== Fleet stopped"
    assert not _fleet_directory(out).exists()
    assert "Traceback" not in proc.stderr


def test_ctrl_c_stops_the_demo_and_its_fleet() -> None:
    proc = subprocess.Popen(
        DEMO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,  # its own process group, as a terminal would make it
    )
    seen = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("$ corral -H host1,host2,host3 deploy"):
                break  # the deploy example is running: a corral process, connections, sshd
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C does: the whole foreground group
        rest, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    out = "".join(seen) + rest
    assert proc.returncode == 130, out + err
    assert "corral: interrupted" in err
    assert out.rstrip().splitlines()[-1] == "== Fleet stopped"
    directory = _fleet_directory(out)
    assert not directory.exists()
    assert _processes_mentioning(str(directory)) == []


def test_version_and_help() -> None:
    version = subprocess.run(
        [sys.executable, "-m", "corral.cli.main", "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.startswith("corral ")
    bare = subprocess.run([sys.executable, "-m", "corral.cli.main"], capture_output=True, text=True)
    assert bare.returncode == 2 and "--demo" in bare.stdout
