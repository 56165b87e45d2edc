"""Progress of a group call: a live rich display on a terminal, plain lines elsewhere."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.live import Live
from rich.table import Table
from rich.text import Text


class GroupProgress:
    """Track hosts' states from Group.on_progress and show them."""

    def __init__(self, hosts: list[str], console: Console, *, live: bool | None = None) -> None:
        self._console = console
        self._pending = set(hosts)
        self._running: dict[str, float] = {}
        self._counts = {"ok": 0, "failed": 0, "skipped": 0}
        self._total = len(hosts)
        self._live_enabled = console.is_terminal if live is None else live
        self._live: Live | None = None

    def __enter__(self) -> GroupProgress:
        if self._live_enabled:
            self._live = Live(self._render(), console=self._console, refresh_per_second=4)
            self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(exc_type, exc, tb)
            self._live = None

    def update(self, host: str, state: str) -> None:
        """Take one host's new state ("running", "ok", "failed", "skipped")."""
        self._pending.discard(host)
        if state == "running":
            self._running[host] = time.monotonic()
        else:
            started = self._running.pop(host, None)
            self._counts[state] = self._counts.get(state, 0) + 1
            if self._live is None and state != "ok":
                elapsed = f" after {time.monotonic() - started:.1f} s" if started else ""
                self._console.print(f"[{host}] {state}{elapsed}", markup=False, highlight=False)
        if self._live is not None:
            self._live.update(self._render())

    def _render(self) -> Table:
        done = sum(self._counts.values())
        table = Table.grid(padding=(0, 2))
        table.add_row(
            Text(f"{done}/{self._total} done", style="bold"),
            Text(f"{self._counts['ok']} ok", style="green"),
            Text(f"{self._counts['failed']} failed", style="red"),
            Text(f"{self._counts['skipped']} skipped", style="yellow"),
            Text(f"{len(self._running)} running"),
            Text(f"{len(self._pending)} pending", style="dim"),
        )
        now = time.monotonic()
        slowest = sorted(self._running.items(), key=lambda item: item[1])[:3]
        if slowest:
            names = ", ".join(f"{h} {now - t:.0f} s" for h, t in slowest)
            table.add_row(Text(f"slowest running: {names}", style="dim"))
        return table
