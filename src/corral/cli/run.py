"""Running the command line's calls: a live progress display for group calls, each call's
report, and what an interruption leaves (Ctrl-C, TERM or HUP: the remote commands stopped,
the partial report, exit 130, 143 or 129)."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable

from rich.console import Console

from ..result import GroupResult
from ..tasks.executor import Executor
from ..tasks.task import Call
from .progress import GroupProgress
from .signals import interrupt_status, interrupt_words
from .summary import render_json, render_text


def run_calls(executor: Executor, calls: list[Call], output: str) -> int:
    """Execute the calls; after each group call print its report (text or JSON lines).

    An interruption (KeyboardInterrupt: Ctrl-C, or TERM/HUP under `stop_on_signals`) stops
    the hosts, whose remote commands end, prints the partial report and returns 128 + N.
    """
    console = Console(file=sys.stdout, highlight=False)
    status = Console(file=sys.stderr, highlight=False)
    progress: GroupProgress | None = None

    def on_progress(host: str, state: str) -> None:
        if progress is not None:
            progress.update(host, state)

    def report(call: Call, result: GroupResult) -> None:
        if output == "json":
            render_json(result, sys.stdout, extra={"task": call.name})
        else:
            render_text(result, console)

    plan = executor.plan(*calls)
    for call in plan:  # a task whose own host list is empty is refused before anything runs
        executor.hosts_for(call)
    pending: list[tuple[Call, GroupResult]] = []  # reported once the live display is gone
    executor.on_progress = on_progress
    executor.on_group_result = lambda call, result: pending.append((call, result))
    live = executor.group_limits is not None and output == "text" and status.is_terminal
    try:
        for call in plan:
            hosts = [executor.label(h) for h in executor.hosts_for(call) if h is not None]
            try:
                with contextlib.ExitStack() as stack:
                    if live and hosts:
                        progress = stack.enter_context(GroupProgress(hosts, status))
                    executor.run_one(call)
            finally:
                progress = None
                for done in pending:
                    report(*done)
                pending.clear()
    except KeyboardInterrupt as exc:
        _report_interruption(executor, exc, report)
        return interrupt_status(exc)
    return 0


def running_where(executor: Executor) -> str:
    """Return "task NAME on HOST: " for the call that was running, if any."""
    if executor.current is None:
        return ""
    call, host = executor.current
    return f"task {call.name}" + (f" on {host}" if host else "") + ": "


def _report_interruption(
    executor: Executor, exc: KeyboardInterrupt, report: Callable[[Call, GroupResult], None]
) -> None:
    """Print what the interrupted call did (its partial report) and one line saying so."""
    where, partial = "", None
    if executor.current is not None:
        call, host = executor.current
        grouped = executor.group_limits is not None and executor.hosts_for(call) != [None]
        if grouped and executor.group is not None:
            partial = executor.group.last_result
        else:  # host by host: the line says where the run stopped
            where = f" during {call.name}" + (f" on {host}" if host else " (local)")
    with contextlib.suppress(OSError):  # after HUP the terminal may be gone: exit all the same
        if partial is not None:
            report(call, partial)
        print(f"corral: {interrupt_words(exc)}{where}", file=sys.stderr, flush=True)
