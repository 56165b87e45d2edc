"""The live view of a group call, fed by the run's events: on a terminal a rich display of
the hosts by state with counts, the batch in progress, the slowest running hosts and the
latest failures; elsewhere one plain line per host that did not end ok."""

from __future__ import annotations

import threading
import time
from collections import deque
from types import TracebackType

from rich.console import Console, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from ..events import Event, HostFinished, HostStarted

#: Failures the live view lists (the newest last).
LATEST_FAILURES = 3
#: Running hosts the live view names, the longest running first.
SLOWEST = 3


class GroupProgress:
    """An event consumer: track the hosts of one group call and show their progress.

    `batch_size` (hosts per wave, for rolling runs) lets it say which batch is running.
    """

    def __init__(
        self,
        hosts: list[str],
        console: Console,
        *,
        live: bool | None = None,
        batch_size: int | None = None,
    ) -> None:
        self._console = console
        self._hosts = list(hosts)
        self._position = {host: index for index, host in enumerate(self._hosts)}
        self._pending = set(self._hosts)
        self._running: dict[str, float] = {}
        self._counts = {"ok": 0, "failed": 0, "interrupted": 0, "skipped": 0}
        self._failures: deque[tuple[str, str, str]] = deque(maxlen=LATEST_FAILURES)
        self._batch = batch_size if batch_size and batch_size < len(self._hosts) else None
        self._batch_at = 0  # the highest batch a host was started in
        self._live_enabled = console.is_terminal if live is None else live
        self._live: Live | None = None
        self._lock = threading.Lock()  # events come from the loop thread, rich draws in its own

    def __enter__(self) -> GroupProgress:
        if self._live_enabled:
            self._live = Live(
                console=self._console, refresh_per_second=4, get_renderable=self._render
            )
            self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.refresh()
            self._live.__exit__(exc_type, exc, tb)
            self._live = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, HostStarted):
            self.update(event.host, "running")
        elif isinstance(event, HostFinished):
            self.update(event.host, event.status, event.error)

    def update(self, host: str, state: str, error: str | None = None) -> None:
        """Take one host's new state ("running", "ok", "failed", "interrupted", "skipped")."""
        if host not in self._position:
            return  # not a host of this call
        with self._lock:
            self._pending.discard(host)
            if state == "running":
                self._running[host] = time.monotonic()
                if self._batch:
                    self._batch_at = max(self._batch_at, self._position[host] // self._batch)
                return
            started = self._running.pop(host, None)
            self._counts[state] = self._counts.get(state, 0) + 1
            if state in ("failed", "interrupted"):
                self._failures.append((state, host, error or state))
        if self._live is None and state != "ok":
            elapsed = f" after {time.monotonic() - started:.1f} s" if started else ""
            reason = f": {error}" if error and state != "skipped" else ""
            self._console.print(f"[{host}] {state}{elapsed}{reason}", markup=False, highlight=False)

    def _render(self) -> RenderableType:
        with self._lock:
            counts = dict(self._counts)
            running = dict(self._running)
            pending = len(self._pending)
            failures = list(self._failures)
            batch = self._batch_at
        done = sum(counts.values())
        table = Table.grid(padding=(0, 2))
        row = [
            Text(f"{done}/{len(self._hosts)} done", style="bold"),
            Text(f"{counts['ok']} ok", style="green"),
            Text(f"{counts['failed']} failed", style="red"),
        ]
        if counts["interrupted"]:
            row.append(Text(f"{counts['interrupted']} interrupted", style="yellow"))
        row += [
            Text(f"{counts['skipped']} skipped", style="yellow"),
            Text(f"{len(running)} running"),
            Text(f"{pending} pending", style="dim"),
        ]
        table.add_row(*row)
        if self._batch:
            batches = -(-len(self._hosts) // self._batch)
            first = batch * self._batch
            members = self._hosts[first : first + self._batch]
            shown = ", ".join(members[:4]) + (", ..." if len(members) > 4 else "")
            table.add_row(Text(f"batch {batch + 1}/{batches}: {shown}", style="cyan"))
        now = time.monotonic()
        slowest = sorted(running.items(), key=lambda item: item[1])[:SLOWEST]
        if slowest:
            names = ", ".join(f"{h} {now - t:.0f} s" for h, t in slowest)
            table.add_row(Text(f"slowest running: {names}", style="dim"))
        for state, host, error in failures:
            style = "red" if state == "failed" else "yellow"
            table.add_row(Text(f"{state}: {host}: {error}", style=style, overflow="ellipsis"))
        return table
