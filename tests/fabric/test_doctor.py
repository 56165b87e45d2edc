"""`corral --doctor` on each project: golden reports (`projects/NAME/doctor.txt`), exact."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from click.testing import CliRunner

from corral.cli.main import cli

from .conftest import PROJECTS

#: project -> (extra arguments, exit status): 1 when something is unsupported
CASES = {
    "doctor_cases": ([], 1),
    "framework": (["-c", "shipit.py"], 0),
    "local_dict_hosts": ([], 0),
    "module_style": ([], 0),
    "package": ([], 0),
    "password_responder": ([], 0),
    "patchwork_helpers": ([], 0),
    "releases": ([], 0),
    "task_args": ([], 0),
    "threading_group": ([], 0),
}


def _runner() -> CliRunner:
    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:  # click < 8.2
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    return CliRunner()


def test_every_project_has_a_golden_report() -> None:
    assert sorted(p.name for p in PROJECTS.iterdir() if p.is_dir()) == sorted(CASES)


@pytest.mark.parametrize("project", sorted(CASES))
def test_the_doctor_report_is_the_golden_one(project: str) -> None:
    extra, status = CASES[project]
    result = _runner().invoke(cli, ["-r", str(PROJECTS / project), *extra, "--doctor"])
    assert result.exit_code == status, result.stderr
    assert result.stdout == (PROJECTS / project / "doctor.txt").read_text()


def test_the_doctor_never_runs_the_fabfile(tmp_path: Path) -> None:
    (tmp_path / "fabfile.py").write_text("raise SystemExit('ran!')\nfrom fabric.api import run\n")
    result = _runner().invoke(cli, ["-r", str(tmp_path), "--doctor"])
    assert result.exit_code == 1
    assert "fabfile.py:2: from fabric.api import run" in result.stdout
    assert "ran!" not in result.stdout + result.stderr


def test_the_doctor_reports_a_file_it_cannot_parse(tmp_path: Path) -> None:
    (tmp_path / "fabfile.py").write_text("def broken(:\n")
    result = _runner().invoke(cli, ["-r", str(tmp_path), "--doctor"])
    assert result.exit_code == 1
    assert result.stdout.splitlines()[1].startswith("    unsupported: not valid Python")
