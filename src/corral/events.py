"""The events of a run: one stream that every output consumes (terminal, JSON lines, the
journal, the HTML report), and `EventBus`, which hands each event to its subscribers.

Every event is a frozen dataclass with the `run_id` it belongs to and its wall-clock `time`
(epoch seconds); `to_dict()` gives a JSON-ready dict with a `type` field, `event_from_dict()`
reads one back. Emitters mask secrets (`mask_secrets`) before they build an event.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets as _random
import threading
import time as _time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal, Protocol

Stream = Literal["stdout", "stderr"]
HostStatus = Literal["ok", "failed", "skipped", "interrupted"]
HOST_STATUSES: tuple[HostStatus, ...] = ("ok", "failed", "skipped", "interrupted")

MASK = "****"

logger = logging.getLogger("corral.events")


def new_run_id(now: float | None = None) -> str:
    """Return a new sortable run id: UTC time and a random suffix (`20261201T205533Z-3f2a9c`)."""
    stamp = _time.strftime("%Y%m%dT%H%M%SZ", _time.gmtime(_time.time() if now is None else now))
    return f"{stamp}-{_random.token_hex(3)}"  # 16M suffixes: 20 runs in one second never clash


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """Replace every occurrence of each non-empty secret in `text` with `****`."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):  # longest first
        if secret in text:
            text = text.replace(secret, MASK)
    return text


@dataclass(frozen=True)
class Event:
    """Base of every event: the run it belongs to and when it happened (epoch seconds)."""

    type: ClassVar[str] = "event"

    run_id: str
    time: float

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict of the event, with its `type`."""
        data: dict[str, Any] = {"type": self.type}
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            data[item.name] = list(value) if isinstance(value, tuple) else value
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        """Build an event of this class from `to_dict()` output (unknown keys are ignored)."""
        names = {item.name for item in dataclasses.fields(cls)}
        values: dict[str, Any] = {
            key: tuple(value) if isinstance(value, list) else value
            for key, value in data.items()
            if key in names
        }
        return cls(**values)


@dataclass(frozen=True)
class RunStarted(Event):
    """A run began: who started what, from where, on which hosts."""

    type: ClassVar[str] = "run_started"

    #: The command line, secrets already masked by the emitter.
    argv: tuple[str, ...] = ()
    user: str = ""
    #: Host name of the machine corral runs on.
    controller: str = ""
    version: str = ""
    cwd: str = ""
    tasks: tuple[str, ...] = ()
    #: The ad-hoc command (`corral -H ... -- CMD`), or None for a task run.
    command: str | None = None
    #: The host selection as given (`-H web[01-10]`, `@failed`, ...).
    selection: str = ""
    hosts: tuple[str, ...] = ()
    #: A few settings worth seeing later (concurrency, batch size, dry, ...).
    config: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class HostStarted(Event):
    """Work on a host began."""

    type: ClassVar[str] = "host_started"

    host: str = ""


@dataclass(frozen=True)
class OutputLine(Event):
    """One line of a host's output, without its newline (the emitter cuts huge lines)."""

    type: ClassVar[str] = "output_line"

    host: str = ""
    stream: Stream = "stdout"
    text: str = ""
    #: True when the command hid this stream from the terminal (`hide=`): recorded, not shown.
    hidden: bool = False
    #: Bytes (UTF-8) of this line left out after `text` (a huge line is cut), else 0.
    cut: int = 0


@dataclass(frozen=True)
class OperationResult(Event):
    """An operation on a host finished: whether it changed something, and how."""

    type: ClassVar[str] = "operation_result"

    host: str = ""
    operation: str = ""
    changed: bool = False
    ok: bool = True
    message: str = ""
    #: A unified diff of the file it changed, if any.
    diff: str | None = None
    commands: tuple[str, ...] = ()


@dataclass(frozen=True)
class HostFinished(Event):
    """A host's work ended: its outcome, exit code and error."""

    type: ClassVar[str] = "host_finished"

    host: str = ""
    status: HostStatus = "ok"
    exit_code: int | None = None
    #: The error's class name (`UnexpectedExit`, `ConnectTimeout`, ...), or None.
    error_type: str | None = None
    #: The error's message on one line, or None.
    error: str | None = None
    duration: float = 0.0
    task: str | None = None


@dataclass(frozen=True)
class RunFinished(Event):
    """The run ended: hosts per status, how long it took, the exit status of corral."""

    type: ClassVar[str] = "run_finished"

    counts: dict[str, int] = field(default_factory=dict)
    duration: float = 0.0
    exit_status: int = 0


EVENT_TYPES: dict[str, type[Event]] = {
    cls.type: cls
    for cls in (RunStarted, HostStarted, OutputLine, OperationResult, HostFinished, RunFinished)
}


def event_from_dict(data: Mapping[str, Any]) -> Event:
    """Read an event back from its `to_dict()` form; raise ValueError for an unknown type."""
    kind = data.get("type")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown event type {kind!r} (known: {', '.join(EVENT_TYPES)})")
    return cls.from_dict(data)


Consumer = Callable[[Event], object]


class EventSink(Protocol):
    """Something that records runs from their events (the journal): `consumer()` gives the
    subscriber to put on a run's bus."""

    def consumer(self) -> Consumer:
        """Return the function that takes each event."""
        ...


class EventBus:
    """Hand each emitted event to every subscriber, in the order they subscribed.

    A subscriber that raises is logged once and dropped: a broken consumer (a full disk under
    the journal, a closed pipe under `--output jsonl`) never breaks the run. `emit` may be
    called from any thread.
    """

    def __init__(self) -> None:
        self._consumers: tuple[Consumer, ...] = ()
        self._lock = threading.Lock()

    def subscribe(self, consumer: Consumer) -> Callable[[], None]:
        """Add a consumer; return a function that removes it."""
        with self._lock:
            self._consumers = (*self._consumers, consumer)
        return lambda: self.unsubscribe(consumer)

    def unsubscribe(self, consumer: Consumer) -> None:
        """Remove a consumer (nothing happens if it is not subscribed)."""
        with self._lock:
            self._consumers = tuple(c for c in self._consumers if c is not consumer)

    @property
    def consumers(self) -> tuple[Consumer, ...]:
        """The subscribed consumers, in order."""
        return self._consumers

    def emit(self, event: Event) -> None:
        """Give the event to every consumer; drop (and log) any consumer that raises."""
        for consumer in self._consumers:  # a snapshot: (un)subscribing mid-emit is safe
            try:
                consumer(event)
            except Exception:
                logger.warning(
                    "event consumer %r failed on %s and was removed; the run goes on",
                    consumer,
                    event.type,
                    exc_info=True,
                )
                self.unsubscribe(consumer)


def bus_for(events: EventBus | None, journal: EventSink | None = None) -> EventBus | None:
    """Return the bus a run emits on: `events`, with `journal`'s consumer subscribed to it (a
    new bus when only a journal is given); None when neither is (nothing is recorded)."""
    if journal is None:
        return events
    bus = events if events is not None else EventBus()
    bus.subscribe(journal.consumer())
    return bus
