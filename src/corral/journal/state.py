"""`RunBook`: the journal writer's memory of the runs in progress. It folds events into the
rows the store writes (a run, its hosts, their operations), keeps each host's output as a
bounded tail, and masks secrets in every text it keeps. Pure logic: no database here.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..events import (
    Event,
    HostFinished,
    HostStarted,
    OperationResult,
    OutputLine,
    RunFinished,
    RunStarted,
    mask_secrets,
)

#: A host's outcome over several tasks: the worst wins (a failure is never hidden by a
#: later task's success; a host skipped by a later task was never fully run).
RANK = {"pending": 0, "running": 1, "ok": 2, "skipped": 3, "interrupted": 4, "failed": 5}
NOT_REACHED = "not reached: the run ended before this host started"


@dataclass
class Batch:
    """Rows to write in one transaction: inserts, then full-row updates."""

    new_runs: list[dict[str, Any]] = field(default_factory=list)
    new_hosts: list[dict[str, Any]] = field(default_factory=list)
    new_operations: list[dict[str, Any]] = field(default_factory=list)
    host_updates: list[dict[str, Any]] = field(default_factory=list)
    run_updates: list[dict[str, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any(
            (
                self.new_runs,
                self.new_hosts,
                self.new_operations,
                self.host_updates,
                self.run_updates,
            )
        )


class Tail:
    """The last lines of a host's output, at most `lines` lines and `max_bytes` bytes."""

    __slots__ = ("bytes", "dropped", "lines", "max_bytes", "max_lines")

    def __init__(self, max_lines: int, max_bytes: int) -> None:
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.lines: deque[tuple[str, str]] = deque()
        self.bytes = 0
        self.dropped = 0

    def add(self, stream: str, text: str) -> None:
        """Keep a line, dropping the oldest ones beyond the bounds."""
        if len(text) > self.max_bytes:  # one huge line: keep its end (chars bound bytes / 4)
            text = text[-max(self.max_bytes // 4, 1) :] if self.max_bytes else ""
        size = len(text.encode("utf-8", "replace")) + 1
        self.lines.append((stream, text))
        self.bytes += size
        while self.lines and (len(self.lines) > self.max_lines or self.bytes > self.max_bytes):
            _, old = self.lines.popleft()
            self.bytes -= len(old.encode("utf-8", "replace")) + 1
            self.dropped += 1

    def to_json(self) -> str:
        """Return the kept lines as JSON: [[stream, text], ...]."""
        return json.dumps([list(line) for line in self.lines], ensure_ascii=False)


@dataclass
class _Host:
    row: dict[str, Any]
    tail: Tail
    is_written: bool
    #: Output arrived since the row was last written.
    has_new_output: bool = False


@dataclass
class _Run:
    row: dict[str, Any]
    hosts: dict[str, _Host]
    is_written: bool = False


class RunBook:
    """Fold events into journal rows; `take()` returns what changed since the last call."""

    def __init__(self, *, tail_lines: int, tail_bytes: int, secrets: Iterable[str] = ()) -> None:
        self.tail_lines = tail_lines
        self.tail_bytes = tail_bytes
        self.secrets: list[str] = [s for s in secrets if s]
        self._runs: dict[str, _Run] = {}
        self._batch = Batch()
        self._dirty_hosts: dict[tuple[str, str], _Host] = {}
        self._dirty_runs: dict[str, _Run] = {}

    def add_secret(self, value: str) -> None:
        """Mask this value in everything kept from now on."""
        if value and value not in self.secrets:
            self.secrets.append(value)

    def _mask(self, text: str) -> str:
        return mask_secrets(text, self.secrets) if self.secrets else text

    def _mask_opt(self, text: str | None) -> str | None:
        return None if text is None else self._mask(text)

    def apply(self, event: Event) -> None:
        """Fold one event into the rows."""
        if isinstance(event, OutputLine):
            host = self._host(event.run_id, event.host)
            if host is not None:
                text = event.text
                if event.cut:  # a huge line, cut by the emitter: say how much is missing
                    text += f" ... ({event.cut:,} more bytes of this line cut)"
                host.tail.add(event.stream, self._mask(text))
                host.has_new_output = True
        elif isinstance(event, HostStarted):
            host = self._host(event.run_id, event.host)
            if host is not None:
                if host.row["started_at"] is None:
                    host.row["started_at"] = event.time
                if host.row["status"] == "pending":
                    host.row["status"] = "running"
                self._touch(event.run_id, host)
        elif isinstance(event, HostFinished):
            self._host_finished(event)
        elif isinstance(event, OperationResult):
            self._operation(event)
        elif isinstance(event, RunStarted):
            self._run_started(event)
        elif isinstance(event, RunFinished):
            self._run_finished(event)

    def take(self) -> Batch:
        """Return the rows to write for everything applied since the last call."""
        batch, self._batch = self._batch, Batch()
        for (_, _), host in self._dirty_hosts.items():
            row = dict(host.row, output=host.tail.to_json(), output_dropped=host.tail.dropped)
            (batch.host_updates if host.is_written else batch.new_hosts).append(row)
            host.is_written = True
            host.has_new_output = False
        for run in self._dirty_runs.values():
            self._count(run)
            if run.is_written:
                batch.run_updates.append(dict(run.row))
        self._dirty_hosts.clear()
        self._dirty_runs.clear()
        for run_id in [r for r, run in self._runs.items() if run.row["status"] != "running"]:
            del self._runs[run_id]  # finished and taken: nothing more will come
        return batch

    @property
    def open_runs(self) -> int:
        """Runs started and not finished yet."""
        return len(self._runs)

    # -- folding -----------------------------------------------------------------------

    def _run_started(self, event: RunStarted) -> None:
        if event.run_id in self._runs:
            return
        tasks = [self._mask(t) for t in event.tasks]
        command = self._mask_opt(event.command)
        row = {
            "run_id": event.run_id,
            "started_at": event.time,
            "finished_at": None,
            "user": self._mask(event.user),
            "controller": event.controller,
            "version": event.version,
            "cwd": self._mask(event.cwd),
            "argv": json.dumps([self._mask(a) for a in event.argv], ensure_ascii=False),
            "tasks": json.dumps(tasks, ensure_ascii=False),
            "command": command,
            "what": command if command is not None else " ".join(tasks),
            "selection": self._mask(event.selection),
            "config": self._mask(json.dumps(event.config, ensure_ascii=False, default=str)),
            "status": "running",
            "exit_status": None,
            "duration": None,
            "hosts_total": len(dict.fromkeys(event.hosts)),
            "n_ok": 0,
            "n_failed": 0,
            "n_skipped": 0,
            "n_interrupted": 0,
        }
        run = _Run(row=row, hosts={})
        self._runs[event.run_id] = run
        self._batch.new_runs.append(dict(row))
        run.is_written = True
        for position, name in enumerate(dict.fromkeys(event.hosts)):
            host = self._new_host(event.run_id, name, position)
            run.hosts[name] = host
            self._batch.new_hosts.append(dict(host.row, output="[]", output_dropped=0))
            host.is_written = True

    def _new_host(self, run_id: str, name: str, position: int) -> _Host:
        row = {
            "run_id": run_id,
            "host": name,
            "position": position,
            "status": "pending",
            "exit_code": None,
            "error_type": None,
            "error": None,
            "started_at": None,
            "finished_at": None,
            "duration": None,
            "task": None,
        }
        return _Host(row=row, tail=Tail(self.tail_lines, self.tail_bytes), is_written=False)

    def _host(self, run_id: str, name: str) -> _Host | None:
        run = self._runs.get(run_id)
        if run is None:
            return None  # events of a run whose start we never saw (or already finished)
        host = run.hosts.get(name)
        if host is None:  # a host outside the selection (a local task): add it at the end
            host = self._new_host(run_id, name, len(run.hosts))
            run.hosts[name] = host
            run.row["hosts_total"] = len(run.hosts)
            self._dirty_runs[run_id] = run
        return host

    def _touch(self, run_id: str, host: _Host) -> None:
        self._dirty_hosts[(run_id, host.row["host"])] = host

    def _host_finished(self, event: HostFinished) -> None:
        host = self._host(event.run_id, event.host)
        if host is None:
            return
        row = host.row
        never_started = event.status == "skipped" and row["status"] == "pending"
        if not never_started:  # a host never started keeps no start, end or duration
            started = event.time - event.duration
            if row["started_at"] is None or started < row["started_at"]:
                row["started_at"] = started
            row["finished_at"] = event.time
            row["duration"] = (row["duration"] or 0.0) + event.duration
        if RANK[event.status] >= RANK[row["status"]] and row["status"] not in ("failed",):
            row["status"] = event.status
            row["exit_code"] = event.exit_code
            row["error_type"] = event.error_type
            row["error"] = self._mask_opt(event.error)
            row["task"] = self._mask_opt(event.task)
        self._touch(event.run_id, host)
        self._dirty_runs[event.run_id] = self._runs[event.run_id]

    def _operation(self, event: OperationResult) -> None:
        if self._host(event.run_id, event.host) is None:
            return
        self._batch.new_operations.append(
            {
                "run_id": event.run_id,
                "host": event.host,
                "time": event.time,
                "operation": self._mask(event.operation),
                "changed": event.changed,
                "ok": event.ok,
                "message": self._mask(event.message),
                "diff": self._mask_opt(event.diff),
                "commands": json.dumps([self._mask(c) for c in event.commands], ensure_ascii=False),
            }
        )

    def _run_finished(self, event: RunFinished) -> None:
        run = self._runs.get(event.run_id)
        if run is None:
            return
        for host in run.hosts.values():
            if host.row["status"] in ("pending", "running"):
                never_started = host.row["status"] == "pending"
                host.row["status"] = "skipped" if never_started else "interrupted"
                host.row["error"] = NOT_REACHED if never_started else "the run ended first"
                self._touch(event.run_id, host)
            elif host.has_new_output:
                self._touch(event.run_id, host)  # output after its last HostFinished
        row = run.row
        row["finished_at"] = event.time
        row["duration"] = event.duration
        row["exit_status"] = event.exit_status
        self._count(run)
        if row["n_interrupted"] or event.counts.get("interrupted"):
            row["status"] = "interrupted"
        elif event.exit_status != 0 or row["n_failed"]:
            row["status"] = "failed"
        else:
            row["status"] = "ok"
        self._dirty_runs[event.run_id] = run

    @staticmethod
    def _count(run: _Run) -> None:
        counts = {"ok": 0, "failed": 0, "skipped": 0, "interrupted": 0}
        for host in run.hosts.values():
            if host.row["status"] in counts:
                counts[host.row["status"]] += 1
        for name, value in counts.items():
            run.row[f"n_{name}"] = value
