"""`corral --dry` and `corral --check`: a corralfile using every method that changes a host
(or this machine) runs against real hosts, prints what it would do, and leaves both exactly
as they were."""

from __future__ import annotations

import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from corral import Config, Connection
from corral.testing.fleet import SSHDFleet

CORRALFILE = '''
import io
import corral
from corral import task

@task
def everything(c, where, here):
    """Call every host-changing method once."""
    c.run(f"touch {where}/run")
    c.sudo(f"touch {where}/sudo")
    with c.cd(where):
        c.run("touch in-cd")
    c.put(f"{here}/file.txt", f"{where}/put.txt")
    c.put(io.BytesIO(b"data"), f"{where}/put-stream.txt")
    c.put(f"{here}/file.txt", f"{where}/put-sudo.txt", sudo=True, mode=0o600)
    c.put(f"{here}/tree", f"{where}/tree", recursive=True)
    c.put_template(f"{here}/app.conf.j2", f"{where}/app.conf", {"name": "x"})
    c.put_template(f"{here}/app.conf.j2", f"{where}/app-sudo.conf", {"name": "x"}, sudo=True)
    c.rsync(f"{here}/tree/", f"{where}/synced")
    c.rsync(f"{where}/", f"{here}/pulled", upload=False)
    c.get("/etc/hostname", f"{here}/got-{{host}}")
    c.local(f"touch {here}/local")
    group = corral.Group(c.original_host, config=c.config)
    group.run(f"touch {where}/group-run")
    group.sudo(f"touch {where}/group-sudo")
    group.put(f"{here}/file.txt", f"{where}/group-put.txt")
    print("dry task finished on", c.original_host)
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "corralfile.py").write_text(textwrap.dedent(CORRALFILE))
    (tmp_path / "file.txt").write_text("hello\n")
    (tmp_path / "app.conf.j2").write_text("name={{ name }}\n")
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "a.txt").write_text("a\n")
    return tmp_path


def _listing(fleet: SSHDFleet, where: str) -> str:
    config = Config(overrides={"ssh_config_path": str(fleet.ssh_config_path)})
    with Connection(fleet.hosts[0].alias, config=config) as c:
        return c.run(f"ls -A {where}", hide=True).stdout


@pytest.mark.parametrize("flag", ["--dry", "--check"])
@pytest.mark.parametrize("mode", [[], ["-P"]], ids=["serial", "parallel"])
def test_dry_run_changes_nothing_on_the_hosts_or_here(
    project: Path, fleet: SSHDFleet, mode: list[str], flag: str
) -> None:
    where = f"/tmp/corral-dry-{secrets.token_hex(4)}"
    config = Config(overrides={"ssh_config_path": str(fleet.ssh_config_path)})
    with Connection(fleet.hosts[0].alias, config=config) as c:
        c.run(f"mkdir -m 777 {where}", hide=True)
    before = sorted(p.name for p in project.iterdir())
    hosts = ",".join(h.alias for h in fleet.hosts[:2])
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "corral.cli.main", "-S", str(fleet.ssh_config_path),
             "-H", hosts, flag, *mode, "everything", where, str(project)],
            cwd=project, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.count("dry task finished on") == 2
        # every call was shown instead of run
        for shown in (f"touch {where}/run", f"sudo touch {where}/sudo", "put", "rsync",
                      f"touch {project}/local", f"touch {where}/group-run"):  # fmt: skip
            assert shown in proc.stdout, shown
        if flag == "--check":  # the same, as "would": rsync ran with its own --dry-run
            assert f"would run: touch {where}/run" in proc.stdout
            assert f"would rsync {project}/tree/ -> {where}/synced: 2 changes" in proc.stdout
        assert _listing(fleet, where) == ""  # nothing was created on the host
        assert sorted(p.name for p in project.iterdir()) == before  # nor here
    finally:
        with Connection(fleet.hosts[0].alias, config=config) as c:
            c.sudo(f"rm -rf {where}", hide=True, password=fleet.password)
