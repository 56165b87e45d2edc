"""Running the command line's calls with a live progress display and end-of-run reports."""

from __future__ import annotations

import contextlib
import sys

from rich.console import Console

from ..result import GroupResult
from ..tasks.executor import Executor
from ..tasks.task import Call
from .errors import INTERRUPTED_STATUS
from .progress import GroupProgress
from .report import render_json, render_text


def run_with_reports(executor: Executor, calls: list[Call], output: str) -> int:
    """Execute the calls; after each group call print its report (text or JSON lines).

    Ctrl-C stops the hosts (their remote commands end), prints the partial report and
    returns 130.
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

    pending: list[tuple[Call, GroupResult]] = []  # reported once the live display is gone
    executor.on_progress = on_progress
    executor.on_group_result = lambda call, result: pending.append((call, result))
    live = executor.group_limits is not None and output == "text" and status.is_terminal
    try:
        for call in executor.plan(*calls):
            hosts = [h for h in executor.hosts_for(call) if h is not None]
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
    except KeyboardInterrupt:
        partial = executor.group.last_result if executor.group is not None else None
        if partial is not None:
            report(executor.current[0] if executor.current else calls[-1], partial)
        print("corral: interrupted", file=sys.stderr, flush=True)
        return INTERRUPTED_STATUS
    return 0
