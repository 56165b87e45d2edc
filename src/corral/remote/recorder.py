"""`RunRecorder`: what a run does, as events on its `EventBus`: the run starting and ending,
each host starting and finishing (its outcome read from what it returned or raised), and its
output as lines (from the listener of its output route).

The executor makes one per run and hands it to the group engine for the calls it runs
concurrently; a `Group` given a bus makes one per call. Every text that goes into an event
is masked with the run's secrets first: events never hold one.
"""

from __future__ import annotations

import getpass
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from ..config import Secret
from ..config.defaults import SECRET_KEYS
from ..events import (
    HOST_STATUSES,
    EventBus,
    HostFinished,
    HostStarted,
    HostStatus,
    OutputLine,
    RunFinished,
    RunStarted,
    mask_secrets,
    new_run_id,
)
from ..result import Result
from ..runner.output import OutputListener

#: Characters of one output line an event keeps; the rest is counted in `OutputLine.cut`.
#: 64 KiB, as the live view folds: a 30 MB line costs one scan and one short event.
LINE_LIMIT = 64 * 1024
#: A host's outcome over several tasks: the worst wins (as the journal ranks them).
RANK = {"ok": 0, "skipped": 1, "interrupted": 2, "failed": 3}


@dataclass(frozen=True)
class Outcome:
    """How a host's share ended, as a HostFinished event says it."""

    status: HostStatus
    exit_code: int | None = None
    error_type: str | None = None
    error: str | None = None


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "reason", "") or error).strip().splitlines()
    return text[0] if text else type(error).__name__


def outcome_of(value: Any) -> Outcome:
    """Read a host's outcome from what its call returned or raised.

    A Result is ok (its exit status kept: non-zero under warn=True); any other value (a
    task's return value, Facts) is ok; `HostSkipped` is skipped; an interrupt (Ctrl-C,
    `CommandInterrupted`) is interrupted; any other exception failed, with the exit status
    of the command it carries, if any.
    """
    if isinstance(value, Result):
        return Outcome("ok", value.exited)
    if isinstance(value, KeyboardInterrupt):
        return Outcome("interrupted", None, "CommandInterrupted", "interrupted")
    if not isinstance(value, BaseException):
        return Outcome("ok")
    result = getattr(value, "result", None)
    exit_code = result.exited if isinstance(result, Result) and result.exited >= 0 else None
    if getattr(value, "skipped", False):
        status: HostStatus = "skipped"
    elif getattr(value, "interrupted", False):
        status = "interrupted"
    else:
        status = "failed"
    return Outcome(status, exit_code, type(value).__name__, _first_line(value))


def run_secrets(config: Any) -> list[str]:
    """Return the secret values a run's config holds: sudo and login passwords, the key
    passphrase, `Secret` env values (run.env) and the journal URL's password."""
    found: list[str] = []

    def add(value: Any) -> None:
        if isinstance(value, Secret):
            value = value.reveal()
        if isinstance(value, str) and value:
            found.append(value)

    for dotted in SECRET_KEYS:
        add(_get(config, dotted))
    env = _get(config, "run.env") or {}
    if isinstance(env, Mapping):
        for value in env.values():
            if isinstance(value, Secret):
                add(value)
    url = _get(config, "journal.url")
    url = url.reveal() if isinstance(url, Secret) else url
    if isinstance(url, str) and "@" in url:
        add(url.split("://", 1)[-1].rpartition("@")[0].partition(":")[2])
    return found


def _get(config: Any, dotted: str) -> Any:
    getter = getattr(config, "get", None)
    if not callable(getter):
        return None
    try:
        return getter(dotted)
    except (KeyError, TypeError, AttributeError):
        return None


@cache
def corral_version() -> str:
    """Return the installed corral's version."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("corral")
    except PackageNotFoundError:  # pragma: no cover - a source tree that was never installed
        return "0.0.0"


def local_identity() -> tuple[str, str]:
    """Return (user, machine) of the person and host running corral."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return user, socket.gethostname()


class _Lines:
    """One host's output, cut into lines, each handed to `emit` (stream, text, hidden, cut).

    The unfinished line of each stream is held (at most LINE_LIMIT characters of it; past
    that only its size is counted) until its newline comes, or `flush`.
    """

    def __init__(self, emit: Callable[[str, str, bool, int], None]) -> None:
        self._emit = emit
        self._lock = threading.Lock()  # a sync task's thread may flush while the loop feeds
        self._parts: dict[str, list[str]] = {}
        self._held: dict[str, int] = {}
        self._cut: dict[str, int] = {}
        self._hidden: dict[str, bool] = {}

    def feed(self, stream: str, text: str, hidden: bool) -> None:
        """Take a chunk of one stream's text."""
        ready: list[tuple[str, str, bool, int]] = []
        with self._lock:
            *complete, rest = text.split("\n")
            for piece in complete:
                self._add(stream, piece, hidden)
                ready.append(self._take(stream))
            if rest:
                self._add(stream, rest, hidden)
        for line in ready:
            self._emit(*line)

    def flush(self) -> None:
        """Hand over the unfinished lines (the command ended without a newline)."""
        with self._lock:
            ready = [self._take(stream) for stream in list(self._parts)]
        for line in ready:
            self._emit(*line)

    def _add(self, stream: str, piece: str, hidden: bool) -> None:
        parts = self._parts.setdefault(stream, [])
        if not parts:
            self._hidden[stream] = hidden
        held = self._held.get(stream, 0)
        room = LINE_LIMIT - held
        if len(piece) > room:
            self._cut[stream] = self._cut.get(stream, 0) + len(
                piece[max(room, 0) :].encode("utf-8", "replace")
            )
            piece = piece[: max(room, 0)]
        if piece or not parts:
            parts.append(piece)
            self._held[stream] = held + len(piece)

    def _take(self, stream: str) -> tuple[str, str, bool, int]:
        parts = self._parts.pop(stream, [])
        self._held.pop(stream, None)
        return (
            stream,
            "".join(parts).removesuffix("\r"),
            self._hidden.pop(stream, False),
            self._cut.pop(stream, 0),
        )


class RunRecorder:
    """Emit a run's events on `bus`: started, hosts started and finished, output lines,
    finished. `task` names the task running now (HostFinished.task)."""

    def __init__(
        self, bus: EventBus, *, run_id: str | None = None, secrets: Iterable[str] = ()
    ) -> None:
        self.bus = bus
        self.run_id = run_id or new_run_id()
        #: The task (or command) the hosts are running now.
        self.task: str | None = None
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)
        self._began = time.monotonic()
        self._hosts: list[str] = []
        self._status: dict[str, HostStatus] = {}
        self._started: dict[str, float] = {}
        self._lines: dict[str, _Lines] = {}
        self._lock = threading.Lock()
        self.is_finished = False

    def mask(self, text: str) -> str:
        """Return `text` with the run's secrets masked."""
        return mask_secrets(text, self._secrets) if self._secrets else text

    @property
    def secrets(self) -> tuple[str, ...]:
        """The values this run masks."""
        return tuple(self._secrets)

    def flush(self, host: str) -> None:
        """Emit a host's unfinished output lines (its share ended without a newline)."""
        lines = self._lines.get(host)
        if lines is not None:
            lines.flush()

    def add_secret(self, value: str) -> None:
        """Mask this value in every event from now on."""
        if value and value not in self._secrets:
            self._secrets = sorted({*self._secrets, value}, key=len, reverse=True)

    # ------------------------------------------------------------------ the run

    def run_started(
        self,
        *,
        hosts: Sequence[str],
        tasks: Sequence[str] = (),
        command: str | None = None,
        argv: Sequence[str] = (),
        selection: str = "",
        config: Mapping[str, Any] | None = None,
    ) -> None:
        """Emit RunStarted: who runs what, from where, on which hosts (argv masked)."""
        user, machine = local_identity()
        self._hosts = list(dict.fromkeys(hosts))
        self._began = time.monotonic()
        self.bus.emit(
            RunStarted(
                self.run_id,
                time.time(),
                argv=tuple(self.mask(word) for word in argv),
                user=user,
                controller=machine,
                version=corral_version(),
                cwd=self.mask(os.getcwd()),
                tasks=tuple(self.mask(task) for task in tasks),
                command=self.mask(command) if command is not None else None,
                selection=self.mask(selection),
                hosts=tuple(self._hosts),
                config=dict(config or {}),
            )
        )

    def add_hosts(self, hosts: Iterable[str]) -> None:
        """Count more hosts in the run (a later task's own hosts), for `not_reached`."""
        for host in hosts:
            if host not in self._hosts:
                self._hosts.append(host)

    def run_finished(self, exit_status: int) -> None:
        """Emit RunFinished with the hosts per status (each host's worst) and the duration."""
        if self.is_finished:
            return
        self.is_finished = True
        counts: dict[str, int] = dict.fromkeys(HOST_STATUSES, 0)
        for status in self._status.values():
            counts[status] += 1
        duration = time.monotonic() - self._began
        self.bus.emit(
            RunFinished(
                self.run_id, time.time(), counts=counts, duration=duration, exit_status=exit_status
            )
        )

    @property
    def statuses(self) -> dict[str, HostStatus]:
        """Each host's worst status so far."""
        return dict(self._status)

    # ------------------------------------------------------------------ hosts

    def host_started(self, host: str) -> None:
        """Emit HostStarted."""
        with self._lock:
            self._started[host] = time.monotonic()
        self.bus.emit(HostStarted(self.run_id, time.time(), host=host))

    def listener(self, host: str) -> OutputListener:
        """Return the output listener of a host: its output as OutputLine events."""
        with self._lock:
            lines = self._lines.get(host)
            if lines is None:
                lines = self._lines[host] = _Lines(self._line_emitter(host))
        return lines.feed

    def _line_emitter(self, host: str) -> Callable[[str, str, bool, int], None]:
        emit, run_id = self.bus.emit, self.run_id

        def line(stream: str, text: str, hidden: bool, cut: int) -> None:
            if self._secrets:
                text = mask_secrets(text, self._secrets)
            event = OutputLine(
                run_id,
                time.time(),
                host=host,
                stream="stderr" if stream == "stderr" else "stdout",
                text=text,
                hidden=hidden,
                cut=cut,
            )
            emit(event)

        return line

    def host_finished(self, host: str, outcome: Any, duration: float | None = None) -> None:
        """Emit HostFinished for what a host's call returned or raised (its output first)."""
        lines = self._lines.get(host)
        if lines is not None:
            lines.flush()
        found = outcome_of(outcome)
        with self._lock:
            began = self._started.pop(host, None)
            previous = self._status.get(host)
            if previous is None or RANK[found.status] >= RANK[previous]:
                self._status[host] = found.status
        if duration is None:
            duration = time.monotonic() - began if began is not None else 0.0
        self.bus.emit(
            HostFinished(
                self.run_id,
                time.time(),
                host=host,
                status=found.status,
                exit_code=found.exit_code,
                error_type=found.error_type,
                error=self.mask(found.error) if found.error is not None else None,
                duration=duration,
                task=self.mask(self.task) if self.task is not None else None,
            )
        )

    def not_reached(self, hosts: Iterable[str], reason: str) -> None:
        """Emit HostFinished (skipped, `reason`) for hosts the run stopped before."""
        for host in hosts:
            self.bus.emit(
                HostFinished(
                    self.run_id,
                    time.time(),
                    host=host,
                    status="skipped",
                    error_type="HostSkipped",
                    error=self.mask(reason),
                    task=self.mask(self.task) if self.task is not None else None,
                )
            )
            with self._lock:
                if host not in self._status or RANK[self._status[host]] < RANK["skipped"]:
                    self._status[host] = "skipped"
