import io
import json

from rich.console import Console

from corral.cli.progress import GroupProgress
from corral.cli.report import render_json, render_text
from corral.errors import HostSkipped, UnexpectedExit
from corral.result import GroupResult, Result


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
