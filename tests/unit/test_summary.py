"""The end-of-run report (text and JSON lines), golden into StringIO at a fixed width."""

import io
import json

import pytest
from rich.console import Console

from corral.cli.progress import GroupProgress
from corral.cli.summary import render_json, render_text
from corral.errors import CommandInterrupted, HostSkipped, UnexpectedExit
from corral.result import GroupResult, Result, output_tail


def _ok(host: str, out: str, duration: float = 0.1) -> Result:
    return Result(
        command="uptime", exited=0, host=host, stdout_bytes=out.encode(), duration=duration
    )


def _sample() -> GroupResult:
    failed = Result(command="uptime", exited=2, host="web05", stderr_bytes=b"no such thing\n")
    hosts: dict[object, object] = {f"web{i:02d}": _ok(f"web{i:02d}", "same\n") for i in range(1, 5)}
    hosts["web05"] = UnexpectedExit(failed)
    hosts["web06"] = _ok("web06", "different\n", duration=2.0)
    hosts["web07"] = HostSkipped("web07", "not started: 1 host(s) failed, more than max_failures=0")
    return GroupResult(hosts, duration=3.25)


def test_text_report_groups_identical_output_and_lists_failures() -> None:
    out = io.StringIO()
    render_text(_sample(), Console(file=out, width=100, color_system=None))
    assert out.getvalue() == (
        "web[01-04] (4):\n"
        "    same\n"
        "web06 (1):\n"
        "    different\n"
        "web05: command 'uptime' exited with status 2\n"
        "    no such thing\n"
        "skipped:\n"
        "  web07 (1): not started: 1 host(s) failed, more than max_failures=0\n"
        "7 hosts: 5 ok, 1 failed, 1 skipped in 3.2 s\n"
        "slowest: web06 2.0 s, web01 0.1 s, web02 0.1 s\n"
    )


def test_json_report_is_one_object_per_host() -> None:
    out = io.StringIO()
    render_json(_sample(), out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["host"] for r in records] == [f"web{i:02d}" for i in range(1, 8)]
    assert records[4] == {
        "host": "web05",
        "ok": False,
        "exited": 2,
        "stdout": "",
        "stderr": "no such thing\n",
        "duration": 0.0,
        "error": "web05: command 'uptime' exited with status 2\nstderr (last 1 lines):\n"
        "    no such thing",
        "error_type": "UnexpectedExit",
        "skipped": False,
        "interrupted": False,
    }
    assert records[6]["skipped"] is True and records[6]["exited"] is None


def test_progress_off_a_terminal_prints_plain_lines_for_problems() -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None)
    with GroupProgress(["a", "b", "c"], console, live=False) as progress:
        for host in ("a", "b", "c"):
            progress.update(host, "running")
        progress.update("a", "ok")
        progress.update("b", "failed")
        progress.update("c", "skipped")
    lines = out.getvalue().splitlines()
    assert [line.split(" after")[0] for line in lines] == ["[b] failed", "[c] skipped"]


def _render(result: GroupResult) -> str:
    out = io.StringIO()
    render_text(result, Console(file=out, width=100, color_system=None))
    return out.getvalue()


def test_a_huge_line_is_cut_and_identical_huge_outputs_are_grouped() -> None:
    line = b"x" * 30_000_000  # issue 9, defect 3: one 30 MB line stalled the report
    result = GroupResult(
        {
            "web1": Result(command="c", exited=0, host="web1", stdout_bytes=line),
            "web2": Result(command="c", exited=0, host="web2", stdout_bytes=line),
            "web3": Result(command="c", exited=0, host="web3", stdout_bytes=line[:-1] + b"y"),
        },
        duration=1.0,
    )
    text = _render(result)
    cut = f"... ({30_000_000 - 4096:,} more bytes of this line cut)"
    assert text.startswith("web[1-2] (2):\n    xxxx")
    assert "\nweb3 (1):\n    xxxx" in text
    assert text.count(cut) == 2
    assert len(text) < 3 * 4096  # two blocks of one cut line, and the counts
    assert text.endswith("3 hosts: 3 ok, 0 failed, 0 skipped in 1.0 s\n")


def test_a_block_shows_the_last_lines_and_says_how_many_came_before() -> None:
    many = "".join(f"line {i}\n" for i in range(1, 101)).encode()
    result = GroupResult({"web1": Result(command="c", exited=0, host="web1", stdout_bytes=many)})
    lines = _render(result).splitlines()
    assert lines[:3] == ["web1 (1):", "    ... (80 earlier lines)", "    line 81"]
    assert lines[21] == "    line 100" and len(lines) == 23


def test_interrupted_hosts_are_reported_with_their_output_apart_from_skipped_ones() -> None:
    partial = Result(
        command="deploy", exited=-1, host="web2", stdout_bytes=b"step 1\nstep 2\n", signal="TERM"
    )
    result = GroupResult(
        {
            "web1": _ok("web1", "done\n"),
            "web2": CommandInterrupted(
                "web2", "interrupted while running; its command was stopped", result=partial
            ),
            "web3": CommandInterrupted(
                "web3", "interrupted while running; its command was stopped"
            ),
            "web4": HostSkipped("web4", "not started: the run was interrupted"),
        },
        duration=2.0,
    )
    assert _render(result) == (
        "web1 (1):\n"
        "    done\n"
        "web2: interrupted while running; its command was stopped\n"
        "    step 1\n"
        "    step 2\n"
        "web3: interrupted while running; its command was stopped\n"
        "skipped:\n"
        "  web4 (1): not started: the run was interrupted\n"
        "4 hosts: 1 ok, 0 failed, 2 interrupted, 1 skipped in 2.0 s\n"
        "slowest: web1 0.1 s\n"
    )
    assert set(result.interrupted) == {"web2", "web3"} and not result.failed
    records = {r["host"]: r for r in result.records()}
    assert records["web2"]["interrupted"] is True and records["web2"]["skipped"] is False
    assert records["web2"]["error_type"] == "CommandInterrupted" and records["web2"]["ok"] is False
    assert records["web4"]["interrupted"] is False and records["web4"]["skipped"] is True
    assert "interrupted:\n  web[2-3] (2): interrupted while running" in result.summary()


@pytest.mark.parametrize(
    ("data", "tail"),
    [
        (b"", ([], 0)),
        (b"\n\n", ([], 0)),
        (b"one\n", (["one"], 0)),
        (b"a\nb\nc", (["b", "c"], 1)),
        (b"\nx", (["", "x"], 0)),
        (b"a\r\nb\r\n", (["a", "b"], 0)),
        (b"x" * 10 + b"\nend\n", (["xxxxxxxx ... (2 more bytes of this line cut)", "end"], 0)),
        (
            "\u00e9\u00e9\u00e9\u00e9\u00e9".encode(),
            (["\u00e9\u00e9\u00e9\u00e9 ... (2 more bytes of this line cut)"], 0),
        ),
        (b"ok\xff\n", (["ok\ufffd"], 0)),
    ],
    ids=["empty", "newlines", "one", "tail", "leading-blank", "crlf", "cut", "no-half-char", "bad"],
)
def test_output_tail_takes_the_last_lines_and_cuts_long_ones(
    data: bytes, tail: tuple[list[str], int]
) -> None:
    assert output_tail(data, lines=2, limit=8) == tail
