"""Running the command line's calls as one recorded run: its events feed every output.

The executor emits the run's events on one `EventBus`; the outputs subscribe to it: the
journal, `--output jsonl` (each event as it happens), `--output json` (one object per host at
the end) and, for text, the live view of each group call and its end report. The hosts'
own output reaches the terminal through their output route as the command prints it (raw
host by host, `[host] ` lines with -P); the same route makes the OutputLine events. With
json or jsonl, stdout holds JSON only: everything else the run prints goes to stderr.

An interruption (Ctrl-C, TERM or HUP) stops the remote commands, prints the partial report
and exits 130, 143 or 129; the run is recorded as interrupted.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from rich.console import Console

from ..errors import GroupException
from ..events import EventBus
from ..journal import Journal, open_journal
from ..operations.recap import Recap, recap_json, render_recap
from ..remote.group import count_of
from ..runner.dry import is_check
from ..tasks.executor import Executor, adhoc_command, exit_status_of
from ..tasks.task import Call
from .jsonl import JsonLines
from .progress import GroupProgress
from .signals import interrupt_status, interrupt_words
from .summary import JsonReport, RunTally, render_text

Output = Literal["text", "json", "jsonl"]


@dataclass(frozen=True)
class RunRecord:
    """How the command line describes its run, for the events (and so the journal)."""

    #: The command line, its secrets masked.
    argv: Sequence[str] = ()
    #: The host selection as given ("-H a,b", "-G 'web:&prod'").
    selection: str = ""
    #: A few settings worth seeing later, and what --rerun-failed replays.
    settings: Mapping[str, Any] = field(default_factory=dict)


@contextlib.contextmanager
def _stdout_for_json(output: Output) -> Iterator[Any]:
    """Yield the stream the JSON goes to; with json or jsonl, everything else printed on
    stdout meanwhile (a task's print, the hosts' output, echo) goes to stderr."""
    stdout = sys.stdout
    if output == "text":
        yield stdout
        return
    with contextlib.redirect_stdout(sys.stderr):
        yield stdout


def run_recorded(executor: Executor, calls: list[Call], output: Output, record: RunRecord) -> int:
    """Run the calls as one run recorded in the journal the config names (if enabled), then
    close the executor's connections and the journal (which waits for its writer, 10 s at
    most); return the exit status."""
    journal = open_journal(executor.config)
    try:
        with executor:
            return run_calls(executor, calls, output, record=record, journal=journal)
    finally:
        if journal is not None:
            journal.close()


def run_calls(
    executor: Executor,
    calls: list[Call],
    output: Output = "text",
    *,
    record: RunRecord | None = None,
    journal: Journal | None = None,
) -> int:
    """Execute the calls as one run whose events feed every output; return the exit status.

    Errors propagate (after the run is recorded as ended with their status), except an
    interruption, which prints the partial report and returns 128 + N.
    """
    record = record or RunRecord()
    plan = executor.plan(*calls)
    for call in plan:  # a task whose own host list is empty is refused before anything runs
        executor.hosts_for(call)
    bus = executor.events if executor.events is not None else EventBus()
    executor.events = bus
    if journal is not None:
        bus.subscribe(journal.consumer())
    # the recap of the operations (HostFinished gives each host's outcome): one more consumer
    recap = Recap(check=is_check(executor.config))
    bus.subscribe(recap)
    with _stdout_for_json(output) as stdout:
        if output == "jsonl":
            bus.subscribe(JsonLines(stdout))
        elif output == "json":
            bus.subscribe(JsonReport(stdout))
        executor.start_run(
            plan, argv=record.argv, selection=record.selection, settings=record.settings
        )
        try:
            for call in plan:
                _run_call(executor, bus, call, output)
        except KeyboardInterrupt as exc:
            status = interrupt_status(exc)
            executor.finish_run(status)
            _say_interrupted(executor, exc)
            _print_recap(recap, output, stdout)
            return status
        except BaseException as exc:
            executor.finish_run(exit_status_of(exc))
            _print_recap(recap, output, stdout)
            raise
        executor.finish_run(0)
        _print_recap(recap, output, stdout)
    return 0


def _run_call(executor: Executor, bus: EventBus, call: Call, output: Output) -> None:
    """Run one call; a group call on a terminal has its live view, then its report."""
    hosts = [executor.label(h) for h in executor.hosts_for(call) if h is not None]
    grouped = executor.group_limits is not None and bool(hosts)
    if not grouped or output != "text":
        executor.run_one(call)
        return
    console = Console(file=sys.stdout, highlight=False)
    status = Console(file=sys.stderr, highlight=False)
    tally = RunTally(fold_hidden=adhoc_command(call) is not None)
    limits = executor.group_limits or {}
    batch = count_of(limits.get("batch_size"), len(hosts), "batch_size")
    consumers: list[Any] = [tally]
    if status.is_terminal:
        consumers.append(GroupProgress(hosts, status, batch_size=batch))
    else:  # off a terminal: a plain line for each host that did not end ok
        consumers.append(GroupProgress(hosts, status, live=False))
    unsubscribe = [bus.subscribe(consumer) for consumer in consumers]
    began = time.monotonic()
    try:
        with contextlib.ExitStack() as stack:
            for consumer in consumers[1:]:
                stack.enter_context(consumer)
            executor.run_one(call)
    except GroupException as exc:
        exc.reported = True  # the report below names every host: one line ends the run
        raise
    finally:
        for remove in unsubscribe:
            remove()
        with contextlib.suppress(OSError):  # after HUP the terminal may be gone
            render_text(
                tally,
                console,
                duration=time.monotonic() - began,
                fold=adhoc_command(call) is not None,
            )


def running_where(executor: Executor) -> str:
    """Return "task NAME on HOST: " for the call that was running, if any."""
    if executor.current is None:
        return ""
    call, host = executor.current
    return f"task {call.name}" + (f" on {host}" if host else "") + ": "


def _say_interrupted(executor: Executor, exc: KeyboardInterrupt) -> None:
    """Print one line saying the run was interrupted (host by host: where it stopped)."""
    where = ""
    if executor.current is not None:
        call, host = executor.current
        grouped = executor.group_limits is not None and executor.hosts_for(call) != [None]
        if not grouped:
            where = f" during {call.name}" + (f" on {host}" if host else " (local)")
    with contextlib.suppress(OSError):  # after HUP the terminal may be gone: exit all the same
        print(f"corral: {interrupt_words(exc)}{where}", file=sys.stderr, flush=True)


def _print_recap(recap: Recap, output: Output, stream: Any) -> None:
    """Print the recap of the operations that ran (if any): text after the report, or one
    `{"type": "recap", ...}` object after the hosts' objects of `--output json`."""
    if not recap.operations:
        return
    with contextlib.suppress(OSError):  # a closed stdout (HUP) must not hide the exit status
        if output == "json":
            stream.write(json.dumps(recap_json(recap), ensure_ascii=False) + "\n")
            stream.flush()
        elif output == "text":
            print("\n" + render_recap(recap), end="", file=stream, flush=True)
