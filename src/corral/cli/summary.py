"""The end-of-run report of a group call: text for people, JSON lines for scripts.

The text is bounded whatever the hosts printed: each block shows the last lines of one
output, each line cut at 4 KiB (`result.output_tail`), and identical outputs are grouped by
digest, so a 30 MB line never reaches rich.
"""

from __future__ import annotations

import json
from typing import IO, Any

from rich.console import Console
from rich.text import Text

from ..result import GroupResult, Result, compress_hosts, output_tail


def _host(connection: Any) -> str:
    return str(getattr(connection, "original_host", connection))


def _block(data: bytes, encoding: str = "utf-8") -> str:
    """Return the tail of one output, indented, saying how many earlier lines are not shown."""
    lines, earlier = output_tail(data, encoding)
    if not lines:
        return "    (no output)"
    head = [f"... ({earlier} earlier lines)"] if earlier else []
    return "\n".join(f"    {line}" for line in [*head, *lines])


def _output(value: Any, stream: str) -> tuple[bytes, str]:
    """Return the bytes (and encoding) of a stream of a Result, or of the result an error holds."""
    if isinstance(value, Result):
        data: bytes = getattr(value, f"{stream}_bytes")
        return data, value.encoding
    text = getattr(value, stream, "")  # an RsyncResult's text
    return (text.encode() if isinstance(text, str) else b""), "utf-8"


def _print(console: Console, text: Text) -> None:
    console.print(text, markup=False, highlight=False)


def render_text(result: GroupResult, console: Console, *, show_output: bool = True) -> None:
    """Print the summary: output grouped by identical text, failures, interrupted hosts
    (with what they printed), skipped hosts, then counts."""
    if show_output:
        for hosts, first in result.output_groups():
            label = f"{compress_hosts(hosts)} ({len(hosts)})"
            _print(console, Text.assemble((label, "bold"), ":"))
            _print(console, Text(_block(first.stdout_bytes, first.encoding)))
    for connection, error in result.failed.items():
        _print(console, Text.assemble((f"{_host(connection)}: ", "bold red"), _first_line(error)))
        stderr, encoding = _output(getattr(error, "result", None), "stderr")
        if stderr:
            _print(console, Text(_block(stderr, encoding), style="dim"))
    for connection, error in result.interrupted.items():
        _print(
            console, Text.assemble((f"{_host(connection)}: ", "bold yellow"), _first_line(error))
        )
        for stream, style in (("stdout", ""), ("stderr", "dim")):
            data, encoding = _output(getattr(error, "result", None), stream)
            if data:
                _print(console, Text(_block(data, encoding), style=style))
    summary = result.summary().splitlines()
    if "skipped:" in summary:
        for line in summary[summary.index("skipped:") :]:
            _print(console, Text(line, style="yellow"))
    style = "bold red" if result.failed else "bold yellow" if result.interrupted else "bold green"
    _print(console, Text(summary[0], style=style))
    slow = sorted(
        ((_host(c), v.duration) for c, v in result.items() if isinstance(v, Result)),
        key=lambda item: -item[1],
    )[:3]
    if len(result) > 3 and slow:
        _print(console, Text("slowest: " + ", ".join(f"{h} {d:.1f} s" for h, d in slow), "dim"))


def render_json(result: GroupResult, stream: IO[str], extra: dict[str, Any] | None = None) -> None:
    """Write one JSON object per host, one per line (with `extra` fields, e.g. the task)."""
    for record in result.records():
        stream.write(json.dumps({**(extra or {}), **record}, ensure_ascii=False) + "\n")
    stream.flush()


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "reason", "") or error).splitlines()
    return text[0] if text else type(error).__name__
