"""The end-of-run report of a group call: text for people, JSON for scripts."""

from __future__ import annotations

import json
from typing import IO, Any

from rich.console import Console
from rich.text import Text

from ..result import GroupResult, Result, compress_hosts

#: Lines of one output block shown in the summary before it is cut.
BLOCK_LINES = 20


def _host(connection: Any) -> str:
    return str(getattr(connection, "original_host", connection))


def _block(text: str) -> str:
    lines = text.rstrip("\n").splitlines()
    if len(lines) > BLOCK_LINES:
        cut = len(lines) - BLOCK_LINES
        lines = [*lines[:BLOCK_LINES], f"... ({cut} more lines)"]
    return "\n".join(f"    {line}" for line in lines) if lines else "    (no output)"


def render_text(result: GroupResult, console: Console, *, show_output: bool = True) -> None:
    """Print the summary: output grouped by identical text, failures, skips, then counts."""
    if show_output:
        for hosts, text in result.grouped_output():
            label = f"{compress_hosts(hosts)} ({len(hosts)})"
            console.print(Text.assemble((label, "bold"), ":"))
            console.print(Text(_block(text)), markup=False, highlight=False)
    for connection, error in result.failed.items():
        heading = Text.assemble((f"{_host(connection)}: ", "bold red"), _first_line(error))
        console.print(heading, markup=False, highlight=False)
        detail = getattr(getattr(error, "result", None), "stderr", "")
        if detail:
            console.print(Text(_block(detail), style="dim"), markup=False, highlight=False)
    summary = result.summary().splitlines()
    skipped_at = summary.index("skipped:") if "skipped:" in summary else None
    if skipped_at is not None:
        for line in summary[skipped_at:]:
            console.print(Text(line, style="yellow"), markup=False, highlight=False)
    style = "bold red" if result.failed else "bold green"
    console.print(Text(summary[0], style=style), markup=False, highlight=False)
    slow = sorted(
        ((_host(c), v.duration) for c, v in result.items() if isinstance(v, Result)),
        key=lambda item: -item[1],
    )[:3]
    if len(result) > 3 and slow:
        console.print(
            Text("slowest: " + ", ".join(f"{h} {d:.1f} s" for h, d in slow), style="dim"),
            markup=False,
            highlight=False,
        )


def render_json(result: GroupResult, stream: IO[str], extra: dict[str, Any] | None = None) -> None:
    """Write one JSON object per host, one per line (with `extra` fields, e.g. the task)."""
    for record in result.records():
        stream.write(json.dumps({**(extra or {}), **record}, ensure_ascii=False) + "\n")
    stream.flush()


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "reason", "") or error).splitlines()
    return text[0] if text else type(error).__name__
