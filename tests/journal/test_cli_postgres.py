"""`journal.url` on the command line: real `corral` runs on the sshd fleet recorded in the
private PostgreSQL server, read back with `corral history`, `show` and `--rerun-failed`; the
URL's password never shown (the server trusts the socket, so any password connects)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from corral import Config
from corral.testing.fleet import SSHDFleet

from .conftest import PostgresServer

PASSWORD = "pg-Pa55word-never-shown"


def corral(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "corral.cli.main", *args],
        cwd=cwd, capture_output=True, text=True, timeout=90, stdin=subprocess.DEVNULL,
        env={**os.environ, "XDG_STATE_HOME": str(cwd / "state")},
    )  # fmt: skip


def test_runs_go_to_postgresql_and_the_urls_password_is_never_shown(
    tmp_path: Path, fleet: SSHDFleet, postgres_server: PostgresServer
) -> None:
    url = postgres_server.create_database().replace("corral@", f"corral:{PASSWORD}@")
    config = tmp_path / "corral.yaml"
    config.write_text(f"journal:\n  url: {json.dumps(url)}\n")
    ssh = ["-f", str(config), "-S", str(fleet.ssh_config_path)]
    bad = fleet.hosts[2]
    command = f'set -- $SSH_CONNECTION; [ "$3" != {bad.address} ] || exit 6'
    hosts = ",".join(h.alias for h in fleet.hosts)
    first = corral(tmp_path, *ssh, "-H", hosts, "-P", "--", command)
    assert first.returncode == 6, first.stderr
    rerun = corral(tmp_path, *ssh, "--rerun-failed", "--", "echo again")
    assert rerun.returncode == 0, rerun.stderr
    assert rerun.stdout == "again\n"
    history = corral(tmp_path, "-f", str(config), "history", "--output", "json")
    assert history.returncode == 0, history.stderr
    listed = [json.loads(line) for line in history.stdout.splitlines()]
    assert [r["what"] for r in listed] == ["echo again", command]
    assert listed[1]["counts"]["failed"] == 1 and listed[0]["hosts_total"] == 1
    shown = corral(tmp_path, "-f", str(config), "show", listed[1]["run_id"])
    assert f"{bad.alias}: failed (exit 6)" in shown.stdout
    assert not (tmp_path / "state").exists()  # nothing went to the SQLite file
    for proc in (first, rerun, history, shown):
        assert PASSWORD not in proc.stdout + proc.stderr
    assert PASSWORD not in repr(Config(overrides={"journal": {"url": url}}).journal)
    check = corral(tmp_path, "-f", str(config), "journal", "check")
    assert check.returncode == 0 and PASSWORD not in check.stdout
    assert "corral:****@" in check.stdout  # where it is, without the password
