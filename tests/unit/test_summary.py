"""The end-of-run report (text) and `--output json`, made from a run's events: outcomes and
output go through a RunRecorder (as the executor and the group engine emit them) into the
consumers, golden into StringIO at a fixed width."""

import io
import json

import pytest
from rich.console import Console

from corral.cli.progress import GroupProgress
from corral.cli.summary import JsonReport, RunTally, render_text
from corral.errors import CommandInterrupted, HostSkipped, UnexpectedExit
from corral.events import Event, EventBus, HostFinished, HostStarted, OutputLine
from corral.remote.recorder import RunRecorder
from corral.result import Result, output_tail


def _ok(host: str, out: str, duration: float = 0.1) -> Result:
    return Result(
        command="uptime", exited=0, host=host, stdout_bytes=out.encode(), duration=duration
    )


class Run:
    """A recorded run fed by hand: output through each host's listener, then its outcome."""

    def __init__(self, *hosts: str, fold_hidden: bool = True, also: object = None) -> None:
        self.bus = EventBus()
        self.events: list[Event] = []
        self.bus.subscribe(self.events.append)
        if also is not None:
            self.bus.subscribe(also)  # type: ignore[arg-type]
        self.tally = RunTally(fold_hidden=fold_hidden)
        self.bus.subscribe(self.tally)
        self.recorder = RunRecorder(self.bus, run_id="r1")
        self.recorder.run_started(hosts=hosts, command="uptime")

    def host(
        self, name: str, outcome: object, *, out: str = "", err: str = "", took: float = 0.1,
        hidden: bool = False,
    ) -> None:  # fmt: skip
        self.recorder.host_started(name)
        listen = self.recorder.listener(name)
        if out:
            listen("stdout", out, hidden)
        if err:
            listen("stderr", err, hidden)
        self.recorder.host_finished(name, outcome, took)

    def render(self, duration: float = 3.25) -> str:
        out = io.StringIO()
        render_text(self.tally, Console(file=out, width=100, color_system=None), duration=duration)
        return out.getvalue()


def _sample() -> Run:
    run = Run(*(f"web{i:02d}" for i in range(1, 8)))
    for i in range(1, 5):
        run.host(f"web{i:02d}", _ok(f"web{i:02d}", "same\n"), out="same\n")
    failed = Result(command="uptime", exited=2, host="web05", stderr_bytes=b"no such thing\n")
    run.host("web05", UnexpectedExit(failed), err="no such thing\n", took=0.0)
    run.host("web06", _ok("web06", "different\n"), out="different\n", took=2.0)
    reason = "not started: 1 host(s) failed, more than max_failures=0"
    run.recorder.host_finished("web07", HostSkipped("web07", reason))
    return run


def test_text_report_groups_identical_output_and_lists_failures() -> None:
    assert _sample().render() == (
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


def test_json_report_is_one_object_per_host_at_the_end_of_the_run() -> None:
    out = io.StringIO()
    run = Run(*(f"web{i:02d}" for i in range(1, 8)), also=JsonReport(out))
    for i in range(1, 5):
        run.host(f"web{i:02d}", _ok(f"web{i:02d}", "same\n"), out="same\n")
    failed = Result(command="uptime", exited=2, host="web05", stderr_bytes=b"no such thing\n")
    run.host("web05", UnexpectedExit(failed), err="no such thing\n", took=0.0)
    assert out.getvalue() == ""  # nothing before the run ends
    run.recorder.run_finished(2)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["host"] for r in records] == [f"web{i:02d}" for i in range(1, 8)]
    assert records[4] == {
        "host": "web05",
        "status": "failed",
        "ok": False,
        "exited": 2,
        "stdout": "",
        "stderr": "no such thing\n",
        "duration": 0.0,
        "error": "command 'uptime' exited with status 2",
        "error_type": "UnexpectedExit",
        "skipped": False,
        "interrupted": False,
        "task": None,  # an ad-hoc command's hosts run no task
        "run_id": "r1",
    }
    assert records[0]["stdout"] == "same\n" and records[0]["ok"] is True
    never = records[6]  # never started: skipped, as the journal has it
    assert never["skipped"] is True and never["exited"] is None and never["status"] == "skipped"


def test_progress_off_a_terminal_prints_plain_lines_for_problems() -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None)
    with GroupProgress(["a", "b", "c"], console, live=False) as progress:
        for host in ("a", "b", "c"):
            progress(HostStarted("r", 1.0, host=host))
        progress(HostFinished("r", 2.0, host="a", status="ok"))
        progress(HostFinished("r", 2.0, host="b", status="failed", error="exit 3"))
        progress(HostFinished("r", 2.0, host="c", status="skipped", error="not started"))
        progress(HostFinished("r", 2.0, host="z", status="failed"))  # not of this call
    lines = out.getvalue().splitlines()
    assert [line.split(" after")[0] for line in lines] == ["[b] failed", "[c] skipped"]
    assert lines[0].endswith(": exit 3")


def test_the_live_view_shows_counts_batch_slowest_and_latest_failures() -> None:
    out = io.StringIO()
    console = Console(file=out, width=100, color_system=None, force_terminal=True)
    hosts = [f"h{i}" for i in range(1, 7)]
    progress = GroupProgress(hosts, console, live=False, batch_size=2)
    for host in ("h1", "h2"):
        progress(HostStarted("r", 1.0, host=host))
    progress(HostFinished("r", 2.0, host="h1", status="failed", error="exit 4"))
    progress(HostFinished("r", 2.0, host="h2", status="ok"))
    progress(HostStarted("r", 3.0, host="h3"))
    console.print(progress._render())
    text = out.getvalue()
    assert "2/6 done" in text and "1 ok" in text and "1 failed" in text and "3 pending" in text
    assert "batch 2/3: h3, h4" in text
    assert "slowest running: h3" in text
    assert "failed: h1: exit 4" in text


def test_a_huge_line_is_cut_and_identical_huge_outputs_are_grouped() -> None:
    line = "x" * 30_000_000  # issue 9, defect 3: one 30 MB line stalled the report
    run = Run("web1", "web2", "web3")
    for host in ("web1", "web2"):
        run.host(host, _ok(host, ""), out=line)
    run.host("web3", _ok("web3", ""), out="y" + line[1:])
    big = [e for e in run.events if isinstance(e, OutputLine)]
    assert all(len(e.text) == 64 * 1024 and e.cut == 30_000_000 - 64 * 1024 for e in big)
    text = run.render(duration=1.0)
    cut = f"... ({30_000_000 - 4096:,} more bytes of this line cut)"
    assert text.startswith("web[1-2] (2):\n    xxxx")
    assert "\nweb3 (1):\n    yxxx" in text
    assert text.count(cut) == 2
    assert len(text) < 3 * 4096  # two blocks of one cut line, and the counts
    assert text.endswith("3 hosts: 3 ok, 0 failed, 0 skipped in 1.0 s\n")


def test_a_block_shows_the_last_lines_and_says_how_many_came_before() -> None:
    many = "".join(f"line {i}\n" for i in range(1, 101))
    run = Run("web1")
    run.host("web1", _ok("web1", many), out=many)
    lines = run.render().splitlines()
    assert lines[:3] == ["web1 (1):", "    ... (80 earlier lines)", "    line 81"]
    assert lines[21] == "    line 100" and len(lines) == 23


def test_interrupted_hosts_are_reported_with_their_output_apart_from_skipped_ones() -> None:
    partial = Result(
        command="deploy", exited=-1, host="web2", stdout_bytes=b"step 1\nstep 2\n", signal="TERM"
    )
    run = Run("web1", "web2", "web3", "web4")
    run.host("web1", _ok("web1", "done\n"), out="done\n")
    stopped = "interrupted while running; its command was stopped"
    run.host("web2", CommandInterrupted("web2", stopped, result=partial), out="step 1\nstep 2\n")
    run.host("web3", CommandInterrupted("web3", stopped))
    run.recorder.host_finished("web4", HostSkipped("web4", "not started: the run was interrupted"))
    assert run.render(duration=2.0) == (
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
    statuses = {e.host: e.status for e in run.events if isinstance(e, HostFinished)}
    assert statuses == {
        "web1": "ok", "web2": "interrupted", "web3": "interrupted", "web4": "skipped"
    }  # fmt: skip


def test_a_task_report_folds_only_the_output_its_commands_showed() -> None:
    run = Run("web1", "web2", fold_hidden=False)
    run.host("web1", "value", out="internal 1\n", hidden=True)
    run.host("web2", "value", out="internal 2\n", hidden=True)
    out = io.StringIO()
    render_text(run.tally, Console(file=out, width=100), duration=1.0, fold=False)
    assert out.getvalue() == "2 hosts: 2 ok, 0 failed, 0 skipped in 1.0 s\n"
    run = Run("web1", "web2", fold_hidden=False)
    for host in ("web1", "web2"):
        run.recorder.listener(host)("stdout", f"internal {host}\n", True)
        run.host(host, "value", out="deployed\n")
    assert run.render(duration=1.0).startswith("web[1-2] (2):\n    deployed\n2 hosts")


def test_output_is_cut_into_lines_across_chunks_and_flushed_at_the_end() -> None:
    run = Run("web1")
    listen = run.recorder.listener("web1")
    for chunk in ("par", "tial\nwhole\r\n", "", "no newline"):
        listen("stdout", chunk, False)
    run.recorder.host_finished("web1", _ok("web1", ""), 0.1)
    texts = [e.text for e in run.events if isinstance(e, OutputLine)]
    assert texts == ["partial", "whole", "no newline"]
    assert isinstance(run.events[-1], HostFinished)  # the last line came before it


def test_events_mask_the_runs_secrets() -> None:
    bus = EventBus()
    seen: list[Event] = []
    bus.subscribe(seen.append)
    recorder = RunRecorder(bus, secrets=["hunter2"])
    recorder.run_started(hosts=["a"], argv=["corral", "--set", "x=hunter2"], command="echo")
    recorder.listener("a")("stdout", "the password is hunter2\n", False)
    failed = Result(command="x", exited=1, host="a", stderr_bytes=b"")
    recorder.host_finished("a", UnexpectedExit(failed), 0.1)
    recorder.run_finished(1)
    text = json.dumps([e.to_dict() for e in seen])
    assert "hunter2" not in text and text.count("****") == 2


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
