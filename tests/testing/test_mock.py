"""MockContext: Invoke's result specs (single, list, by command, by regex, repeat), corral
Results, clear errors for unexpected commands, cd/prefix, and Mock-wrapped methods."""

from __future__ import annotations

import re
from typing import Any

import pytest

from corral import Config, Context, Result, UnexpectedExit
from corral.testing import MockContext


def test_it_is_a_corral_context_with_a_corral_config() -> None:
    c = MockContext()
    assert isinstance(c, Context)
    assert isinstance(c.config, Config)
    assert c.config.run.warn is False
    config = Config(overrides={"deploy_env": "production"})
    assert MockContext(config).config.get("deploy_env") == "production"


@pytest.mark.parametrize(
    ("spec", "exited", "stdout"),
    [
        (Result(command="", exited=0, stdout_bytes=b"hi\n"), 0, "hi\n"),
        ("some output\n", 0, "some output\n"),
        (True, 0, ""),
        (False, 1, ""),
        (Result(command="", exited=7, stderr_bytes=b"oops"), 7, ""),
    ],
)
def test_a_single_result_answers_any_command(spec: Any, exited: int, stdout: str) -> None:
    c = MockContext(run=spec)
    for command in ("ls", "make deploy"):
        result = c.run(command)
        assert isinstance(result, Result)
        assert (result.command, result.exited, result.stdout) == (command, exited, stdout)


def test_a_failing_result_is_returned_not_raised_and_an_exception_is_raised() -> None:
    failed = Result(command="false", exited=3)
    c = MockContext(run={"false": failed, "boom": UnexpectedExit(failed)})
    assert c.run("false") is failed and not c.run("false").ok
    with pytest.raises(UnexpectedExit, match="exited with status 3"):
        c.run("boom")


def test_a_result_with_its_own_command_is_returned_as_given() -> None:
    given = Result(command="uname -a", exited=0, stdout_bytes=b"Linux\n")
    assert MockContext(run=given).run("uname") is given


def test_a_list_answers_successive_calls_and_repeats_by_default() -> None:
    c = MockContext(run=["one", "two"])
    assert [c.run("x").stdout for _ in range(5)] == ["one", "two", "one", "two", "one"]


def test_without_repeat_each_answer_is_used_once() -> None:
    c = MockContext(run=["one", "two"], repeat=False)
    assert [c.run("x").stdout for _ in range(2)] == ["one", "two"]
    with pytest.raises(NotImplementedError, match=r"unexpected run\('x'\).*all used"):
        c.run("x")


def test_results_by_command_string_and_by_regex() -> None:
    answers: dict[str | re.Pattern[str], Any] = {
        "whoami": "deploy\n",
        re.compile(r"ls( -\w+)? /srv"): "app\nlogs\n",
        re.compile(r"systemctl restart \w+"): [True, False],
    }
    c = MockContext(run=answers)
    assert c.run("whoami").stdout == "deploy\n"
    assert c.run("ls -1 /srv").stdout == "app\nlogs\n"
    assert c.run("ls /srv").command == "ls /srv"  # the command that matched
    assert [c.run("systemctl restart app").ok for _ in range(3)] == [True, False, True]


def test_an_exact_command_wins_over_a_regex_and_regexes_match_at_the_start() -> None:
    answers: dict[str | re.Pattern[str], Any] = {re.compile("echo"): "regex", "echo hi": "exact"}
    c = MockContext(run=answers)
    assert c.run("echo hi").stdout == "exact"
    assert c.run("echo there").stdout == "regex"
    with pytest.raises(NotImplementedError):
        c.run("x; echo")  # re.match, as Invoke: anchored at the start


@pytest.mark.parametrize(
    ("kwargs", "call", "message"),
    [
        ({}, "run", r"unexpected run\('rm -rf /'\): no run results were prepared"),
        ({"run": True}, "sudo", r"unexpected sudo\('rm -rf /'\): no sudo results"),
        (
            {"run": {"ls": True, re.compile(r"cat \S+"): "x"}},
            "run",
            r"unexpected run\('rm -rf /'\); results were prepared for: 'ls', 'cat \\\\S\+'",
        ),
    ],
)
def test_an_unexpected_command_raises_not_implemented_naming_it(
    kwargs: dict[str, Any], call: str, message: str
) -> None:
    c = MockContext(**kwargs)
    with pytest.raises(NotImplementedError, match=message):
        getattr(c, call)("rm -rf /")


def test_sudo_has_its_own_results() -> None:
    c = MockContext(run="as me\n", sudo={"whoami": "root\n"})
    assert c.sudo("whoami").stdout == "root\n"
    assert c.run("whoami").stdout == "as me\n"
    assert c.sudo("whoami", user="postgres").command == "whoami"


def test_set_result_for_adds_and_replaces_answers() -> None:
    c = MockContext(run={"ls": "a\n"})
    c.set_result_for("run", "ls", "b\n")
    c.set_result_for("run", re.compile("git "), False)
    c.set_result_for("sudo", "reboot", True)  # no sudo results yet: a dict is started
    assert c.run("ls").stdout == "b\n"
    assert not c.run("git pull").ok
    assert c.sudo("reboot").ok


def test_set_result_for_refuses_when_results_are_not_by_command() -> None:
    c = MockContext(run=["one"])
    with pytest.raises(TypeError, match="not by command"):
        c.set_result_for("run", "ls", True)
    with pytest.raises(ValueError, match="'run' or 'sudo'"):
        c.set_result_for("local", "ls", True)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (42, "MockContext results are a Result, str, bool, exception, .*; not int"),
        ([1], "MockContext result 1 is not a Result, str, bool or exception"),
        ({"ls": [None]}, "MockContext result None is not a Result"),
    ],
)
def test_results_of_other_types_are_a_type_error(spec: Any, message: str) -> None:
    with pytest.raises(TypeError, match=message):
        MockContext(run=spec)


def test_an_argv_list_is_matched_as_quoted_shell_text() -> None:
    c = MockContext(run={"printf '%s\\n' 'a b'": "a b\n"})
    assert c.run(["printf", "%s\\n", "a b"]).stdout == "a b\n"


def test_cd_and_prefix_do_not_change_matching_and_show_in_commands() -> None:
    c = MockContext(run={"make": True, "ls": True}, sudo={"systemctl reload app": True})
    with c.cd("/srv/app"):
        with c.prefix("source venv/bin/activate"):
            assert c.cwd == "/srv/app"
            c.run("make")
        with c.cd("releases"):
            c.run("ls")
        c.sudo("systemctl reload app", user="app")
    with c.cd("~/my app"):
        c.run("ls")
    c.run("ls")
    assert c.cwd is None
    assert c.commands == [
        "cd /srv/app && source venv/bin/activate && make",
        "cd /srv/app/releases && ls",
        "sudo -u app cd /srv/app && systemctl reload app",
        "cd ~/'my app' && ls",
        "ls",
    ]


def test_run_and_sudo_are_mocks_recording_their_calls() -> None:
    c = MockContext(run=True, sudo=True)
    c.run("make", hide=True)
    c.sudo("reboot", user="root")
    c.run.assert_called_once_with("make", hide=True)
    c.sudo.assert_called_once_with("reboot", user="root")
    assert MockContext().run.call_count == 0


def test_a_task_under_test() -> None:
    """How a user tests a task: prepare answers, call it, check what it did."""

    def current_release(c: Context) -> str:
        with c.cd("~/apps/web"):
            return c.run("readlink current", hide=True).stdout.strip().rpartition("/")[2]

    c = MockContext(run={"readlink current": "releases/20260101T120000\n"})
    assert current_release(c) == "20260101T120000"
    assert c.commands == ["cd ~/apps/web && readlink current"]
