"""What the journal gives back: runs, hosts and operations as plain frozen dataclasses."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

#: A run's status: running until its RunFinished arrives.
RunStatus = Literal["running", "ok", "failed", "interrupted"]
#: A host's status in a run: pending/running until it finishes.
HostRecordStatus = Literal["pending", "running", "ok", "failed", "skipped", "interrupted"]
COUNTED = ("ok", "failed", "skipped", "interrupted")


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class RunSummary:
    """One line of the history: when, who, what, how many hosts did what, how it ended."""

    run_id: str
    started_at: float
    finished_at: float | None
    user: str
    controller: str
    #: Task names joined with spaces, or the ad-hoc command.
    what: str
    status: RunStatus
    exit_status: int | None
    duration: float | None
    hosts_total: int
    #: Hosts per status: ok, failed, skipped, interrupted.
    counts: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        data: dict[str, Any] = _plain(self)
        return data


@dataclass(frozen=True)
class OperationRecord:
    """An operation's result on a host."""

    host: str
    time: float
    operation: str
    changed: bool
    ok: bool
    message: str
    diff: str | None
    commands: tuple[str, ...] = ()


@dataclass(frozen=True)
class HostRecord:
    """A host's outcome in a run: the first failure wins over later tasks' results."""

    host: str
    #: The host's place in the run's host list.
    position: int
    status: HostRecordStatus
    exit_code: int | None
    error_type: str | None
    error: str | None
    started_at: float | None
    finished_at: float | None
    duration: float | None
    #: The task the outcome belongs to (the failing one), or None for an ad-hoc command.
    task: str | None
    #: The last lines of output, as (stream, text): "stdout" or "stderr".
    output: tuple[tuple[str, str], ...] = ()
    #: Lines of output not kept (older than the tail).
    output_dropped: int = 0
    operations: tuple[OperationRecord, ...] = ()

    @property
    def is_failure(self) -> bool:
        """True when the host failed or was interrupted."""
        return self.status in ("failed", "interrupted")


@dataclass(frozen=True)
class RunDetail:
    """One run as the journal recorded it: the summary, how it was started, every host."""

    summary: RunSummary
    argv: tuple[str, ...]
    version: str
    cwd: str
    tasks: tuple[str, ...]
    command: str | None
    selection: str
    config: dict[str, Any]
    hosts: tuple[HostRecord, ...]

    @property
    def run_id(self) -> str:
        """The run's id."""
        return self.summary.run_id

    def failures(self) -> list[HostRecord]:
        """Return the hosts that failed or were interrupted, in host order."""
        return [h for h in self.hosts if h.is_failure]

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (output lines as [stream, text] pairs)."""
        data: dict[str, Any] = _plain(self)
        return data
