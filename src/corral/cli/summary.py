"""The end of a run as the command prints it, from the run's events: the text report of a
group call (for people) and `--output json` (one object per host, for scripts).

`RunTally` is the consumer: it folds events into what each host did. The text report is
bounded whatever the hosts printed: a block shows the last lines of one output, each cut at
4 KiB, and identical outputs are grouped by digest (so a 30 MB line never reaches rich).
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import IO, Any

from rich.console import Console
from rich.text import Text

from ..events import Event, HostFinished, OutputLine, RunFinished, RunStarted
from ..result import LINE_LIMIT, TAIL_LINES, compress_hosts

#: A host's outcome over several tasks: the worst wins.
RANK = {"ok": 0, "skipped": 1, "interrupted": 2, "failed": 3}


def shown_line(text: str, cut: int = 0, limit: int = LINE_LIMIT) -> str:
    """Return an output line as a report shows it: cut at `limit`, saying how much was cut."""
    if len(text) <= limit and not cut:
        return text
    rest = len(text[limit:].encode("utf-8", "replace")) + cut
    return f"{text[:limit]} ... ({rest:,} more bytes of this line cut)"


class Lines:
    """One stream of a host: its last lines (all of them with `keep=None`), how many there
    were, and a digest of every one of them."""

    def __init__(self, keep: int | None) -> None:
        self.lines: deque[tuple[str, int]] = deque(maxlen=keep)
        self.count = 0
        self._digest = hashlib.blake2b(digest_size=16)

    def add(self, text: str, cut: int) -> None:
        """Keep a line (and the size of what was cut from it)."""
        self.lines.append((text, cut))
        self.count += 1
        self._digest.update(f"{cut}:{text}\n".encode("utf-8", "replace"))

    @property
    def digest(self) -> bytes:
        """The digest of every line so far."""
        return self._digest.digest()

    def text(self) -> str:
        """Return the kept lines as text, each ending with a newline."""
        return "".join(shown_line(t, c, limit=len(t)) + "\n" for t, c in self.lines)


@dataclass
class HostTally:
    """What the events said of one host."""

    host: str
    status: str | None = None
    exit_code: int | None = None
    error_type: str | None = None
    error: str | None = None
    duration: float = 0.0
    task: str | None = None
    streams: dict[str, Lines] = field(default_factory=dict)
    #: The stdout lines a report folds: all of an ad-hoc command's, the shown ones of a task.
    folded: Lines | None = None

    @property
    def is_warned(self) -> bool:
        """True for a host whose command exited non-zero under warn=True (it did not fail)."""
        return self.status == "ok" and self.exit_code not in (None, 0)


class RunTally:
    """An event consumer: what each host of a run (or of one call) did, in host order.

    `keep` bounds the lines kept per stream (None: every line, for `--output json`);
    `fold_hidden` says whether hidden stdout counts for the report's folded output (yes for
    an ad-hoc command, whose output is the point of the run; no for a task's own commands).
    """

    def __init__(self, *, keep: int | None = TAIL_LINES, fold_hidden: bool = True) -> None:
        self.keep = keep
        self.fold_hidden = fold_hidden
        self.hosts: dict[str, HostTally] = {}
        self.run_id: str | None = None
        self.finished: RunFinished | None = None

    def tally(self, host: str) -> HostTally:
        """Return the tally of a host (made on first mention)."""
        found = self.hosts.get(host)
        if found is None:
            found = self.hosts[host] = HostTally(host, folded=Lines(self.keep))
        return found

    def __call__(self, event: Event) -> None:
        if isinstance(event, OutputLine):
            tally = self.tally(event.host)
            lines = tally.streams.get(event.stream)
            if lines is None:
                lines = tally.streams[event.stream] = Lines(self.keep)
            lines.add(event.text, event.cut)
            if event.stream == "stdout" and (self.fold_hidden or not event.hidden):
                assert tally.folded is not None
                tally.folded.add(event.text, event.cut)
        elif isinstance(event, HostFinished):
            tally = self.tally(event.host)
            tally.duration += event.duration
            if tally.status is None or RANK[event.status] >= RANK[tally.status]:
                tally.status = event.status
                tally.exit_code = event.exit_code
                tally.error_type = event.error_type
                tally.error = event.error
                tally.task = event.task
        elif isinstance(event, RunStarted):
            self.run_id = event.run_id
            for host in event.hosts:
                self.tally(host)
        elif isinstance(event, RunFinished):
            self.finished = event

    def with_status(self, *statuses: str) -> list[HostTally]:
        """Return the hosts that ended with one of these statuses, in order."""
        return [t for t in self.hosts.values() if t.status in statuses]

    def records(self) -> list[dict[str, Any]]:
        """Return one JSON-ready dict per host: host, status, ok, exited, stdout, stderr,
        duration, error, error_type, skipped, interrupted, task, run_id."""
        out = []
        for tally in self.hosts.values():
            status = tally.status or "skipped"
            streams = {name: lines.text() for name, lines in tally.streams.items()}
            out.append(
                {
                    "host": tally.host,
                    "status": status,
                    "ok": status == "ok" and not tally.is_warned,
                    "exited": tally.exit_code,
                    "stdout": streams.get("stdout", ""),
                    "stderr": streams.get("stderr", ""),
                    "duration": round(tally.duration, 3),
                    "error": tally.error,
                    "error_type": tally.error_type,
                    "skipped": status == "skipped",
                    "interrupted": status == "interrupted",
                    "task": tally.task,
                    "run_id": self.run_id,
                }
            )
        return out


def _block(lines: Lines | None) -> str:
    """Return the tail of one output, indented, saying how many earlier lines are not shown."""
    if lines is None or not lines.count:
        return "    (no output)"
    kept = list(lines.lines)
    while kept and not kept[-1][0] and not kept[-1][1]:  # trailing blank lines
        kept.pop()
    if not kept:
        return "    (no output)"
    earlier = lines.count - len(lines.lines)
    head = [f"... ({earlier} earlier lines)"] if earlier else []
    return "\n".join(f"    {line}" for line in [*head, *(shown_line(t, c) for t, c in kept)])


def _print(console: Console, text: Text) -> None:
    console.print(text, markup=False, highlight=False)


def _counts(tally: RunTally, duration: float) -> str:
    ok = sum(1 for t in tally.hosts.values() if t.status == "ok" and not t.is_warned)
    warned = sum(1 for t in tally.hosts.values() if t.is_warned)
    failed = len(tally.with_status("failed"))
    interrupted = len(tally.with_status("interrupted"))
    skipped = len(tally.hosts) - ok - warned - failed - interrupted
    counts = [f"{ok} ok"]
    if warned:
        counts.append(f"{warned} exited non-zero (warn)")
    counts.append(f"{failed} failed")
    if interrupted:
        counts.append(f"{interrupted} interrupted")
    counts.append(f"{skipped} skipped")
    return f"{len(tally.hosts)} hosts: {', '.join(counts)} in {duration:.1f} s"


def _reasons(hosts: Iterable[HostTally]) -> list[str]:
    reasons: dict[str, list[str]] = {}
    for tally in hosts:
        reasons.setdefault(tally.error or "not started", []).append(tally.host)
    return [f"  {compress_hosts(h)} ({len(h)}): {r}" for r, h in reasons.items()]


def render_text(tally: RunTally, console: Console, *, duration: float, fold: bool = True) -> None:
    """Print the report of a group call: identical outputs folded (with the host list),
    failures (with their stderr), interrupted hosts (with what they printed), skipped hosts,
    the counts, the slowest hosts.

    `fold=False` leaves the folded output out unless some host printed (a task whose
    commands showed nothing).
    """
    done = [t for t in tally.hosts.values() if t.status == "ok"]
    groups: dict[bytes, list[HostTally]] = {}
    for host in done:
        assert host.folded is not None
        groups.setdefault(host.folded.digest, []).append(host)
    if fold or any(h.folded is not None and h.folded.count for h in done):
        for members in sorted(groups.values(), key=lambda group: -len(group)):
            names = [m.host for m in members]
            _print(console, Text.assemble((f"{compress_hosts(names)} ({len(names)})", "bold"), ":"))
            _print(console, Text(_block(members[0].folded)))
    for host in tally.with_status("failed"):
        _print(console, Text.assemble((f"{host.host}: ", "bold red"), host.error or "failed"))
        stderr = host.streams.get("stderr")
        if stderr is not None and stderr.count:
            _print(console, Text(_block(stderr), style="dim"))
    for host in tally.with_status("interrupted"):
        _print(console, Text.assemble((f"{host.host}: ", "bold yellow"), host.error or ""))
        for stream, style in (("stdout", ""), ("stderr", "dim")):
            lines = host.streams.get(stream)
            if lines is not None and lines.count:
                _print(console, Text(_block(lines), style=style))
    skipped = [t for t in tally.hosts.values() if t.status in ("skipped", None)]
    if skipped:
        for line in ["skipped:", *_reasons(skipped)]:
            _print(console, Text(line, style="yellow"))
    failed = bool(tally.with_status("failed"))
    style = (
        "bold red"
        if failed
        else "bold yellow"
        if tally.with_status("interrupted")
        else "bold green"
    )
    _print(console, Text(_counts(tally, duration), style=style))
    slow = sorted(((h.host, h.duration) for h in done), key=lambda item: -item[1])[:3]
    if len(tally.hosts) > 3 and slow:
        _print(console, Text("slowest: " + ", ".join(f"{h} {d:.1f} s" for h, d in slow), "dim"))


class JsonReport:
    """An event consumer that writes `--output json`: one object per host, one per line, at
    the end of the run (every host of the run, in order)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.tally = RunTally(keep=None)

    def __call__(self, event: Event) -> None:
        self.tally(event)
        if isinstance(event, RunFinished):
            write_records(self.tally.records(), self.stream)


def write_records(records: Iterable[dict[str, Any]], stream: IO[str]) -> None:
    """Write JSON objects, one per line."""
    for record in records:
        stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    stream.flush()
