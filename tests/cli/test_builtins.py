"""The built-in commands as the first word after the core options: found with or without a
corralfile, shadowed by a task of the same name (said once on stderr), reached with
--builtin, listed in --help."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from .conftest import Invoke


@pytest.fixture(autouse=True)
def journal_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path / "state"


def test_a_built_in_runs_without_a_corralfile(corral_cli: Invoke) -> None:
    result = corral_cli("history")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith("no runs recorded in ")
    assert result.stderr == ""


def test_a_task_with_a_built_ins_name_wins_and_says_how_to_reach_the_built_in(
    corral_cli: Invoke, tmp_path: Path
) -> None:
    (tmp_path / "corralfile.py").write_text(
        textwrap.dedent(
            """
            from corral import task

            @task
            def history(c, limit=1):
                print(f"my own history, limit {limit}")
            """
        )
    )
    result = corral_cli("history", "--limit", "5")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "my own history, limit 5\n"
    assert result.stderr.count("shadows the built-in `corral history`") == 1
    assert "corral --builtin history" in result.stderr
    builtin = corral_cli("--builtin", "history", "--limit", "5")
    assert builtin.exit_code == 0, builtin.stderr
    assert builtin.stderr == ""
    rows = builtin.stdout.splitlines()  # the built-in's table, with the task's run in it
    assert rows[0].split()[:4] == ["RUN", "STARTED", "USER", "WHAT"]
    assert rows[1].split()[4] == "history" and rows[1].split()[-1] == "ok"
    helped = corral_cli("--help", "history")  # the task's help: it is what `history` runs
    assert "--limit" in helped.stdout and "--status" not in helped.stdout


def test_help_lists_the_built_ins_and_shows_each_ones_options(corral_cli: Invoke) -> None:
    top = corral_cli("--help")
    assert "Built-in commands" in top.stdout
    for name in ("inventory", "facts", "history", "show", "report", "journal"):
        assert f"\n  {name} " in top.stdout
    for args in (["--help", "history"], ["history", "--help"]):
        helped = corral_cli(*args)
        assert helped.exit_code == 0
        assert "--status" in helped.stdout and "--since" in helped.stdout
    journal = corral_cli("journal", "--help")
    assert all(word in journal.stdout for word in ("check", "vacuum", "prune"))


def test_built_in_usage_errors_exit_2(corral_cli: Invoke) -> None:
    unknown = corral_cli("--builtin", "deploy")
    assert unknown.exit_code == 2 and "no built-in command 'deploy'" in unknown.stderr
    bare = corral_cli("--builtin")
    assert bare.exit_code == 2 and "--builtin needs a command" in bare.stderr
    dashes = corral_cli("history", "--", "ls")
    assert dashes.exit_code == 2 and "takes no command after --" in dashes.stderr
    prune = corral_cli("journal", "prune")
    assert prune.exit_code == 2 and "--older-than" in prune.stderr
    bad_age = corral_cli("journal", "prune", "--older-than", "soon")
    assert bad_age.exit_code == 1 and "bad age 'soon'" in bad_age.stderr


def test_a_broken_corralfile_is_reported_unless_the_built_in_is_asked_for(
    corral_cli: Invoke, tmp_path: Path
) -> None:
    (tmp_path / "corralfile.py").write_text("raise RuntimeError('half-written')\n")
    result = corral_cli("history")
    assert result.exit_code == 1 and "half-written" in result.stderr
    forced = corral_cli("--builtin", "history")
    assert forced.exit_code == 0 and forced.stdout.startswith("no runs recorded")


def test_show_and_report_of_an_empty_journal_say_so(corral_cli: Invoke) -> None:
    shown = corral_cli("show")
    assert shown.exit_code == 1
    assert "does not exist yet: no run recorded" in shown.stderr
    report = corral_cli("report", "-o", "x.html")
    assert report.exit_code == 1 and "no run recorded" in report.stderr
