"""How an error ends the `corral` command: its exit_code and the one line show() prints."""

from __future__ import annotations

import io

import pytest

from corral.errors import (
    CommandInterrupted,
    ConfigError,
    CorralError,
    CorralfileError,
    GroupException,
    HostSkipped,
    HostUnreachable,
    UnexpectedExit,
    UsageError,
)
from corral.result import GroupResult, Result


def _exit(status: int, host: str = "web1", *, hide: tuple[str, ...] = ()) -> UnexpectedExit:
    result = Result(
        command="deploy",
        exited=status,
        host=host,
        stderr_bytes=b"disk full\nno space left\n",
        hide=hide,  # type: ignore[arg-type]
    )
    return UnexpectedExit(result)


@pytest.mark.parametrize(("status", "code"), [(3, 3), (255, 255), (256, 1), (-1, 1)])
def test_a_failed_command_exits_with_its_own_status(status: int, code: int) -> None:
    assert _exit(status).exit_code == code


@pytest.mark.parametrize(
    ("failures", "code"),
    [
        ([_exit(4, "a"), _exit(4, "b")], 4),
        ([_exit(3, "a"), _exit(4, "b")], 1),
        ([_exit(4, "a"), HostUnreachable("b", "connection refused")], 1),
        ([HostSkipped("a", "not started")], 1),
    ],
    ids=["same-status", "different-statuses", "not-all-exits", "only-skipped"],
)
def test_a_group_exits_with_the_common_status_of_its_failed_hosts(
    failures: list[BaseException], code: int
) -> None:
    result = GroupResult({f"h{i}": error for i, error in enumerate(failures)})
    assert GroupException(result).exit_code == code


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (CorralError("x"), 1),
        (ConfigError("bad key"), 1),
        (CorralfileError("error loading corralfile.py"), 1),
        (UsageError("-H '' names no host"), 2),
        (CommandInterrupted("web1", "interrupted"), 130),
    ],
)
def test_each_kind_of_error_has_its_exit_status(error: CorralError, code: int) -> None:
    assert error.exit_code == code


def test_a_group_exception_shows_which_hosts_failed_and_why() -> None:
    out = io.StringIO()
    GroupException(GroupResult({"a": _exit(4, "a")}, duration=1.0)).show(out)
    assert out.getvalue() == (
        "corral: 1 hosts: 0 ok, 1 failed, 0 skipped in 1.0 s\n"
        "failed:\n"
        "  a: command 'deploy' exited with status 4\n"
    )


def test_a_reported_group_exception_shows_one_line() -> None:
    out = io.StringIO()
    error = GroupException(GroupResult({"a": _exit(4, "a")}, duration=1.0))
    error.reported = True  # the -P report named every host already
    error.show(out)
    assert out.getvalue() == "corral: 1 hosts: 0 ok, 1 failed, 0 skipped in 1.0 s\n"


def test_a_group_exception_of_many_failed_hosts_shows_twenty_of_them() -> None:
    result = GroupResult({f"h{i:02d}": _exit(1, f"h{i:02d}") for i in range(30)}, duration=1.0)
    out = io.StringIO()
    GroupException(result).show(out)
    lines = out.getvalue().splitlines()
    assert len(lines) == 22 and lines[-1] == "  ... and 11 more lines"


def test_show_adds_a_failed_commands_output_tail_only_when_it_was_hidden() -> None:
    seen, hidden = io.StringIO(), io.StringIO()
    _exit(3).show(seen)
    _exit(3, hide=("stderr",)).show(hidden)
    assert seen.getvalue() == "corral: web1: command 'deploy' exited with status 3\n"
    assert hidden.getvalue() == (
        "corral: web1: command 'deploy' exited with status 3\n"
        "stderr (last 2 lines):\n    disk full\n    no space left\n"
    )


def test_show_writes_to_stderr_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    UsageError("no terminal").show()
    assert capsys.readouterr() == ("", "corral: no terminal\n")


def test_a_huge_stderr_line_is_cut_in_the_message() -> None:
    result = Result(command="x", exited=1, host="web1", stderr_bytes=b"e" * 5_000_000)
    message = str(UnexpectedExit(result))
    assert len(message) < 5000
    assert message.endswith(f"... ({5_000_000 - 4096:,} more bytes of this line cut)")
