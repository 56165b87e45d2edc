"""Operations through `corral`: --check leaves the hosts as they were and says what would
change, --diff prints the diffs, and every run with operations ends with the recap (text,
or one JSON object with --output json), in serial and -P runs; in-process (CliRunner)."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.testing.fleet import SSHDFleet

from .conftest import Invoke

CORRALFILE = """
from corral import ops, task

@ops.handler
def reload(c):
    c.run("echo reloaded >> {where}/" + c.original_host + ".log")

@task
def configure(c, value="1"):
    \"\"\"Configure the app on the host.\"\"\"
    with ops.handlers(c):
        ops.directory(c, "{where}/" + c.original_host)
        ops.file(c, "{where}/" + c.original_host + "/app.conf", content=f"value={{value}}\\n",
                 notify=reload)
        ops.line(c, "{where}/" + c.original_host + "/extra.ini", "debug=false", create=True,
                 notify=reload)
    c.run("echo done >> {where}/runs-" + c.original_host,
          creates="{where}/runs-" + c.original_host)
"""


@pytest.fixture
def where(fleet: SSHDFleet) -> Iterator[Path]:
    path = Path("/tmp") / f"corral-cli-ops-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    entry = pwd.getpwnam(fleet.user)
    os.chown(path, entry.pw_uid, entry.pw_gid)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def cli(corral_cli: Invoke, tmp_path: Path, where: Path, fleet: SSHDFleet) -> Invoke:
    (tmp_path / "corralfile.py").write_text(textwrap.dedent(CORRALFILE.format(where=where)))
    hosts = ",".join(h.alias for h in fleet.hosts[:2])

    def invoke(*args: str) -> object:
        return corral_cli("-S", str(fleet.ssh_config_path), "-H", hosts, *args)

    return invoke  # type: ignore[return-value]


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): path.read_text() if path.is_file() else "<dir>"
        for path in sorted(root.rglob("*"))
    }


@pytest.mark.parametrize("mode", [[], ["-P"]], ids=["serial", "parallel"])
def test_a_run_changes_then_reports_unchanged_and_the_recap_says_so(
    cli: Invoke, where: Path, mode: list[str]
) -> None:
    first = cli(*mode, "configure")
    assert first.exit_code == 0, first.output
    assert (where / "host1" / "app.conf").read_text() == "value=1\n"
    assert (where / "host1" / "extra.ini").read_text() == "debug=false\n"
    assert (where / "host1.log").read_text() == "reloaded\n"  # notified twice, ran once
    recap = first.stdout[first.stdout.index("RECAP") :]
    # three operations, the handler and the guarded command: all changed something
    assert recap.splitlines()[:2] == [
        "RECAP",
        "host[1-2] (2)  ok=5    changed=5    failed=0    skipped=0",
    ]
    second = cli(*mode, "configure")
    assert second.exit_code == 0, second.output
    assert "host[1-2] (2)  ok=3    changed=0    failed=0    skipped=1" in second.stdout
    assert "CHANGED" not in second.stdout
    assert (where / "host1.log").read_text() == "reloaded\n"


def test_check_leaves_the_hosts_as_they_were_and_says_what_would_change(
    cli: Invoke, where: Path
) -> None:
    assert cli("configure").exit_code == 0
    before = snapshot(where)
    result = cli("--check", "--diff", "configure", "--value", "2")
    assert result.exit_code == 0, result.output
    assert snapshot(where) == before
    out = result.stdout
    assert "-value=1\n+value=2\n" in out, out  # --diff
    assert "RECAP (check mode: nothing was changed; changed= is what would change)" in out
    assert "WOULD CHANGE" in out
    assert f"host[1-2] (2)  file {where}/" not in out  # each host's own file: one line each
    assert f"host1 (1)      file {where}/host1/app.conf: would change content" in out
    assert "handler reload: would run" in out


def test_output_json_ends_with_the_recap_object(cli: Invoke, where: Path) -> None:
    result = cli("-P", "--output", "json", "configure")
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    recap = lines[-1]
    assert recap["type"] == "recap" and recap["check"] is False
    assert set(recap["hosts"]) == {"host1", "host2"}
    assert all(h["failed"] == 0 and h["status"] == "ok" for h in recap["hosts"].values())
    assert [r.get("host") for r in lines[:-1]] == ["host1", "host2"]  # the per-host records


def test_an_operation_error_fails_the_host_with_one_line_and_the_recap(
    cli: Invoke, where: Path
) -> None:
    (where / "host1").mkdir()
    (where / "host1" / "app.conf").mkdir()  # a directory where the file goes
    result = cli("configure")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        f"corral: host1: file(path=...): {where}/host1/app.conf is a directory, where a file "
        "is expected; remove it first (ops.absent) or choose another path"
    )
    assert f"FAILED\nhost1 (1)  file {where}/host1/app.conf: " in result.stdout


def test_ad_hoc_commands_would_run_under_check(cli: Invoke, where: Path) -> None:
    result = cli("--check", "--", "touch", f"{where}/made")
    assert result.exit_code == 0, result.output
    assert f"[host1] would run: touch {where}/made" in result.stdout
    assert not (where / "made").exists()
