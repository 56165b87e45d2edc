"""Rendering of the journal for people (rich, to a Console) and for programs (JSON):
`corral history`, `corral show RUN`, `corral journal check|vacuum|prune`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, TextIO

from rich.console import Console
from rich.markup import escape
from rich.text import Text

from ..result import compress_hosts
from .records import COUNTED, HostRecord, RunDetail, RunSummary

if TYPE_CHECKING:
    from .store import CheckReport, VacuumReport

STATUS_STYLE = {
    "ok": "green",
    "failed": "red",
    "interrupted": "yellow",
    "skipped": "dim",
    "running": "cyan",
    "pending": "dim",
}
SHOW_TAIL = 20  # lines of output `show` prints per failed host (JSON has the whole tail)


def format_time(timestamp: float | None, tz: tzinfo | None = None) -> str:
    """Return `2026-12-01 21:05:33` in the given (default: local) time zone."""
    if timestamp is None:
        return "-"
    return datetime.fromtimestamp(timestamp, tz).strftime("%Y-%m-%d %H:%M:%S")


def format_duration(seconds: float | None) -> str:
    """Return a duration for people: `0.4 s`, `12.0 s`, `2 m 05 s`, `1 h 02 m`."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} m {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} m"


def format_counts(counts: dict[str, int]) -> Text:
    """Return `12 ok, 2 failed` (statuses with no host left out), coloured by status."""
    text = Text()
    for name in COUNTED:
        if counts.get(name):
            if text:
                text.append(", ")
            text.append(f"{counts[name]} {name}", style=STATUS_STYLE[name])
    return text or Text("-")


def _status(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


def _cell(text: Text, width: int, *, right: bool = False) -> Text:
    """Return `text` cut (with …) or padded to `width` cells."""
    cell = text.copy()
    cell.truncate(width, overflow="ellipsis")
    padding = " " * (width - cell.cell_len)
    return Text(padding).append_text(cell) if right else cell.append(padding)


def render_history(
    runs: list[RunSummary], console: Console, *, location: str = "", tz: tzinfo | None = None
) -> None:
    """Print the runs as a table: id, when, who, what, hosts per outcome, time, status.

    Every column keeps its width but WHAT, which is cut (with …) to what the line has left.
    The lines are put together here, not by rich's Table: 20 rows cost a few milliseconds
    instead of tens (measured by bench/runjournal).
    """
    if not runs:
        where = f" in {location}" if location else ""
        console.print(f"no runs recorded{escape(where)}", highlight=False)
        return
    has_interrupted = any(run.counts.get("interrupted") for run in runs)
    statuses = [_status(run.status) for run in runs]
    for run, status in zip(runs, statuses, strict=True):
        if run.exit_status:
            status.append(f" ({run.exit_status})")
    names = ["ok", "failed", "skipped", *(["interrupted"] if has_interrupted else [])]
    rows = [
        [
            run.run_id,
            format_time(run.started_at, tz)[5:16],  # 12-01 21:05
            run.user,
            run.what,
            *(str(run.counts.get(name, 0)) for name in names),
            format_duration(run.duration),
        ]
        for run in runs
    ]
    headers = ["RUN", "STARTED", "USER", "WHAT", "OK", "FAIL", "SKIP"]
    headers += ["INT"] if has_interrupted else []
    headers += ["TIME", "STATUS"]
    widths = [max(len(h), *(Text(r[i]).cell_len for r in rows)) for i, h in enumerate(headers[:-1])]
    widths.append(max(len(headers[-1]), *(s.cell_len for s in statuses)))
    fixed = sum(widths) - widths[3] + 2 * (len(headers) - 1)
    widths[3] = min(widths[3], max(10, console.width - fixed))
    numbers = {"OK", "FAIL", "SKIP", "INT", "TIME"}
    styles = {"OK": STATUS_STYLE["ok"], "FAIL": STATUS_STYLE["failed"]}
    styles["INT"] = STATUS_STYLE["interrupted"]
    separator = Text("  ")

    def line(cells: list[Text]) -> Text:
        return separator.join(
            _cell(cell, width, right=header in numbers)
            for cell, width, header in zip(cells, widths, headers, strict=True)
        )

    console.print(line([Text(h, style="bold") for h in headers]), soft_wrap=True, highlight=False)
    for row, status in zip(rows, statuses, strict=True):
        cells = [
            Text(value, style=styles.get(h, "")) for value, h in zip(row, headers, strict=False)
        ]
        console.print(line([*cells, status]), soft_wrap=True, highlight=False)


def write_history_json(runs: Iterable[RunSummary], out: TextIO) -> None:
    """Write one JSON object per run, one per line, newest first."""
    for run in runs:
        out.write(json.dumps(run.to_dict(), ensure_ascii=False) + "\n")


def _host_line(host: HostRecord) -> Text:
    line = Text(f"{host.host}: ")
    line.append(host.status, style=STATUS_STYLE.get(host.status, ""))
    if host.exit_code is not None and host.status != "ok":
        line.append(f" (exit {host.exit_code})")
    if host.task:
        line.append(f" in {host.task}")
    if host.duration is not None:
        line.append(f" after {format_duration(host.duration)}")
    return line


def render_run(run: RunDetail, console: Console, *, tz: tzinfo | None = None) -> None:
    """Print one run: how it was started, its outcome, failures first, then every host."""
    summary = run.summary
    head = Text(f"run {summary.run_id}: ", style="bold")
    head.append(summary.status, style=STATUS_STYLE.get(summary.status, ""))
    if summary.exit_status is not None:
        head.append(f" (exit {summary.exit_status})")
    console.print(head)
    fields = [
        (
            "started",
            f"{format_time(summary.started_at, tz)} by {summary.user}"
            + (f" on {summary.controller}" if summary.controller else ""),
        ),
        (
            "finished",
            f"{format_time(summary.finished_at, tz)}"
            + (
                f" after {format_duration(summary.duration)}"
                if summary.duration is not None
                else ""
            ),
        ),
        ("command", " ".join(run.argv) or "-"),
        ("what", summary.what or "-"),
        ("hosts", f"{summary.hosts_total}: "),
        ("in", run.cwd or "-"),
    ]
    for label, value in fields:
        line = Text(f"  {label:<9}", style="dim")
        line.append(value)
        if label == "hosts":
            line.append_text(format_counts(summary.counts))
        console.print(line)
    failures = run.failures()
    if failures:
        console.print(Text(f"failed ({len(failures)}):", style="bold red"))
        for host in failures:
            console.print(Text("  ").append_text(_host_line(host)))
            if host.error:
                console.print(Text(f"    {host.error_type or 'error'}: {host.error}"))
            tail = host.output[-SHOW_TAIL:]
            if tail:
                older = len(host.output) - len(tail) + host.output_dropped
                more = f" ({older} earlier not shown)" if older else ""
                console.print(Text(f"    last {len(tail)} lines of output{more}:", style="dim"))
                for stream, output in tail:
                    style = "red" if stream == "stderr" else ""
                    console.print(Text(f"    | {output}", style=style))
    others: dict[str, list[str]] = {}
    for host in run.hosts:
        if not host.is_failure:
            others.setdefault(host.status, []).append(host.host)
    for status in ("ok", "skipped", "running", "pending"):
        if status in others:
            names = others[status]
            group = Text(f"{status} ({len(names)}): ", style=STATUS_STYLE[status])
            group.append(compress_hosts(names), style="")
            console.print(group)
    changes = [(h.host, op) for h in run.hosts for op in h.operations if op.changed]
    if changes:
        console.print(Text(f"changed ({len(changes)}):", style="bold"))
        for name, op in changes:
            console.print(
                Text(f"  {name}: {op.operation}" + (f" ({op.message})" if op.message else ""))
            )
            for change in (op.diff or "").splitlines():
                style = "green" if change.startswith("+") else ""
                style = "red" if change.startswith("-") else style
                console.print(Text(f"    {change}", style=style))


def write_run_json(run: RunDetail, out: TextIO) -> None:
    """Write the run as one JSON object (every host, its output tail and operations)."""
    out.write(json.dumps(run.to_dict(), ensure_ascii=False, indent=2) + "\n")


def render_check(report: CheckReport, console: Console) -> None:
    """Print what `journal check` found."""
    console.print(
        f"journal {escape(report.location)}: schema version {report.schema_version}, "
        f"{report.runs} runs, {report.hosts} host records, {report.operations} operations",
        highlight=False,
    )
    if report.ok:
        console.print(Text("ok", style="green"))
    for problem in report.problems:
        console.print(Text(f"problem: {problem}", style="red"))


def render_vacuum(report: VacuumReport, console: Console) -> None:
    """Print what `journal vacuum` reclaimed."""
    if report.bytes_before is None or report.bytes_after is None:
        console.print(f"journal {escape(report.location)}: vacuumed", highlight=False)
        return
    saved = report.bytes_before - report.bytes_after
    console.print(
        f"journal {escape(report.location)}: {_size(report.bytes_before)} -> "
        f"{_size(report.bytes_after)} ({_size(saved)} reclaimed)",
        highlight=False,
    )


def render_prune(removed: int, older_than: str, location: str, console: Console) -> None:
    """Print how many runs `journal prune` deleted."""
    console.print(
        f"journal {escape(location)}: {removed} run{'s' if removed != 1 else ''} "
        f"older than {older_than} deleted",
        highlight=False,
    )


def _size(count: int) -> str:
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
