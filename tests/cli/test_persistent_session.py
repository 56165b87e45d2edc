"""`corral --persistent-session`: a host's commands run in one long-lived shell."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from corral.testing.fleet import SSHDFleet

from .conftest import Invoke

CORRALFILE = '''
from corral import task

@task
def shells(c):
    """Print the pid of the shell each of three commands ran in."""
    pids = [c.run("echo $$", hide=True).stdout.strip() for _ in range(3)]
    print("shells:", len(set(pids)))
'''


@pytest.mark.parametrize(("flag", "shells"), [((), 3), (("--persistent-session",), 1)])
def test_the_flag_runs_a_hosts_commands_in_one_shell(
    tmp_path: Path, corral_cli: Invoke, fleet: SSHDFleet, flag: tuple[str, ...], shells: int
) -> None:
    (tmp_path / "corralfile.py").write_text(textwrap.dedent(CORRALFILE))
    result = corral_cli(
        "-S", str(fleet.ssh_config_path), "-H", fleet.hosts[0].alias, *flag, "shells"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == f"shells: {shells}\n"


def test_the_setting_comes_from_config_too(
    tmp_path: Path, corral_cli: Invoke, fleet: SSHDFleet
) -> None:
    (tmp_path / "corralfile.py").write_text(textwrap.dedent(CORRALFILE))
    result = corral_cli(
        "-S", str(fleet.ssh_config_path), "--set", "persistent_session=true",
        "-H", fleet.hosts[0].alias, "shells",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == "shells: 1\n"
