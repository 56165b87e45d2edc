"""The recap at the end of a run: per host, how many operations were ok, changed, failed or
skipped (Ansible's PLAY RECAP), hosts with the same outcome grouped on one line, and what
changed (or, in check mode, would change), grouped the same way. Text and JSON.

`Recap` is a consumer of the event stream (`OperationResult`, `HostFinished`); it also
takes `OpResult`s directly, for runs driven from Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..events import Event, HostFinished, OperationResult
from ..result import compress_hosts
from .result import OpResult


@dataclass
class HostRecap:
    """One host's counts. `ok` counts every operation that succeeded, changed ones included
    (as Ansible counts); `status` is the host's outcome once reported (ok, failed, ...)."""

    ok: int = 0
    changed: int = 0
    failed: int = 0
    skipped: int = 0
    status: str | None = None

    def key(self) -> tuple[int, int, int, int, str | None]:
        """The outcome hosts are grouped by."""
        return (self.ok, self.changed, self.failed, self.skipped, self.status)

    def counts(self) -> dict[str, int]:
        """The four counts as a dict."""
        return {"ok": self.ok, "changed": self.changed, "failed": self.failed,
                "skipped": self.skipped}  # fmt: skip


class Recap:
    """Operation outcomes of a run, per host (a consumer of the event stream)."""

    def __init__(self, *, check: bool = False) -> None:
        #: True when the run was in check mode: `changed` counts what would change.
        self.check = check
        self.hosts: dict[str, HostRecap] = {}
        #: (operation, message) -> hosts, in the order first seen: what changed or failed.
        self.changes: dict[tuple[str, str], list[str]] = {}
        self.failures: dict[tuple[str, str], list[str]] = {}
        self.operations = 0

    def __call__(self, event: Event) -> None:
        """Take an event of the run's stream (other kinds are ignored)."""
        if isinstance(event, OperationResult):
            self._count(event.host, event.operation, event.ok, event.changed, event.message)
        elif isinstance(event, HostFinished):
            self.host(event.host).status = event.status

    def add(self, result: OpResult) -> None:
        """Count an operation's result."""
        name = f"{result.operation} {result.target}"
        self._count(result.host, name, result.ok, result.changed, result.message)

    def host(self, name: str) -> HostRecap:
        """Return a host's counts (made on first use)."""
        recap = self.hosts.get(name)
        if recap is None:
            recap = self.hosts[name] = HostRecap()
        return recap

    def _count(self, host: str, operation: str, ok: bool, changed: bool, message: str) -> None:
        recap = self.host(host)
        self.operations += 1
        if not ok:
            recap.failed += 1
            self.failures.setdefault((operation, message), []).append(host)
        elif message.startswith("skipped"):
            recap.skipped += 1
        else:
            recap.ok += 1
            if changed:
                recap.changed += 1
                self.changes.setdefault((operation, message), []).append(host)

    def groups(self) -> list[tuple[list[str], HostRecap]]:
        """Return the hosts grouped by identical outcome, in the order first seen."""
        grouped: dict[tuple[Any, ...], tuple[list[str], HostRecap]] = {}
        for name, recap in self.hosts.items():
            grouped.setdefault(recap.key(), ([], recap))[0].append(name)
        return list(grouped.values())


def _label(hosts: list[str]) -> str:
    return f"{compress_hosts(hosts)} ({len(hosts)})"


def render_recap(recap: Recap) -> str:
    """Return the recap as text: a line per group of hosts, then what changed and failed."""
    if not recap.hosts:
        return ""
    groups = recap.groups()
    labels = [_label(hosts) for hosts, _ in groups]
    width = max(len(label) for label in labels)
    title = "RECAP (check mode: nothing was changed; changed= is what would change)"
    lines = [title if recap.check else "RECAP"]
    for label, (_hosts, counts) in zip(labels, groups, strict=True):
        numbers = "  ".join(f"{k}={v:<3}" for k, v in counts.counts().items()).rstrip()
        status = f"  host {counts.status}" if counts.status not in (None, "ok") else ""
        lines.append(f"{label:<{width}}  {numbers}{status}".rstrip())
    for heading, table in (
        ("WOULD CHANGE" if recap.check else "CHANGED", recap.changes),
        ("FAILED", recap.failures),
    ):
        if not table:
            continue
        rows = [
            (_label(hosts), f"{op}: {msg}" if msg else op) for (op, msg), hosts in table.items()
        ]
        width = max(len(label) for label, _ in rows)
        lines += ["", heading] + [f"{label:<{width}}  {what}" for label, what in rows]
    return "\n".join(lines) + "\n"


def recap_json(recap: Recap) -> dict[str, Any]:
    """Return the recap as a JSON-ready dict (`type: recap`)."""
    return {
        "type": "recap",
        "check": recap.check,
        "hosts": {
            name: {**counts.counts(), "status": counts.status}
            for name, counts in recap.hosts.items()
        },
        "groups": [
            {
                "hosts": hosts,
                "label": compress_hosts(hosts),
                **counts.counts(),
                "status": counts.status,
            }
            for hosts, counts in recap.groups()
        ],
        "changed": [
            {"hosts": hosts, "operation": op, "message": msg}
            for (op, msg), hosts in recap.changes.items()
        ],
        "failed": [
            {"hosts": hosts, "operation": op, "message": msg}
            for (op, msg), hosts in recap.failures.items()
        ],
    }
