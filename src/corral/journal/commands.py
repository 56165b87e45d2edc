"""What `corral history`, `show`, `journal check|vacuum|prune`, `report`, `--rerun-failed`
and the `@failed` selector do, as plain functions: the CLI parses flags and calls these.

Each returns the exit status; errors the user can fix raise `JournalError` with one line.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, Literal, TextIO

from rich.console import Console

from ..errors import JournalError
from .journal import Journal
from .render import (
    render_check,
    render_history,
    render_prune,
    render_run,
    render_vacuum,
    write_history_json,
    write_run_json,
)
from .settings import JournalSettings, config_secrets

Output = Literal["text", "json"]

_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 7 * 86400.0}
#: `@failed` (the latest run's failed and unreached hosts) or `@failed:RUN`.
FAILED_SELECTOR = re.compile(r"^@failed(?::(?P<run>.+))?$")


def journal_for_reading(config: Any) -> Journal:
    """Return the journal `config` points at, for the history commands (even if disabled)."""
    return Journal(JournalSettings.from_config(config), secrets=config_secrets(config))


def parse_age(text: str) -> float:
    """Return the seconds in an age such as `30d`, `12h`, `90m`, `2w` or `45s`."""
    match = _AGE.match(text)
    if match is None:
        raise JournalError(
            f"bad age {text!r}: give a number and a unit (s, m, h, d, w), as in 30d or 12h"
        )
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_when(text: str, *, now: float | None = None, tz: tzinfo | None = None) -> float:
    """Return the epoch time of `2026-12-01`, `2026-12-01T10:30`, `today`, `yesterday`,
    or an age before now (`3d`: three days ago)."""
    now = time.time() if now is None else now
    word = text.strip().lower()
    if word in ("today", "yesterday"):
        midnight = datetime.fromtimestamp(now, tz).replace(
            hour=0, minute=0, second=0, microsecond=0
        )
        return (midnight - timedelta(days=1 if word == "yesterday" else 0)).timestamp()
    if _AGE.match(word):
        return now - parse_age(word)
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise JournalError(
            f"bad date {text!r}: use 2026-12-01, 2026-12-01T10:30, today, yesterday or an age "
            "such as 3d"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=tz) if tz is not None else moment.astimezone()
    return moment.timestamp()


def history(
    journal: Journal,
    console: Console,
    *,
    host: str | None = None,
    what: str | None = None,
    status: str | None = None,
    since: str | None = None,
    until: str | None = None,
    limit: int = 20,
    output: Output = "text",
    out: TextIO | None = None,
    tz: tzinfo | None = None,
) -> int:
    """List recent runs (`corral history`), filtered; JSON lines with output="json"."""
    from .store import HistoryQuery

    query = HistoryQuery(
        host=host,
        what=what,
        status=status,
        since=parse_when(since, tz=tz) if since else None,
        until=parse_when(until, tz=tz) if until else None,
        limit=limit,
    )
    runs = journal.history(query)
    if output == "json":
        write_history_json(runs, out or sys.stdout)
    else:
        render_history(runs, console, location=journal.location, tz=tz)
    return 0


def show(
    journal: Journal,
    ref: str | None,
    console: Console,
    *,
    output: Output = "text",
    out: TextIO | None = None,
    tz: tzinfo | None = None,
) -> int:
    """Show one run (`corral show RUN`; the latest without RUN)."""
    run = journal.run(ref)
    if output == "json":
        write_run_json(run, out or sys.stdout)
    else:
        render_run(run, console, tz=tz)
    return 0


def check(journal: Journal, console: Console) -> int:
    """Check the journal (`corral journal check`): exit 1 when it found a problem."""
    report = journal.check()
    render_check(report, console)
    return 0 if report.ok else 1


def vacuum(journal: Journal, console: Console) -> int:
    """Reclaim space (`corral journal vacuum`)."""
    render_vacuum(journal.vacuum(), console)
    return 0


def prune(journal: Journal, older_than: str, console: Console) -> int:
    """Delete old runs (`corral journal prune --older-than 30d`)."""
    removed = journal.prune(parse_age(older_than))
    render_prune(removed, older_than, journal.location, console)
    return 0


def report(journal: Journal, ref: str | None, path: str | Path) -> Path:
    """Write one run's HTML report to `path` (`corral report RUN -o FILE`); return the path."""
    from .report import render_report

    target = Path(path)
    target.write_text(render_report(journal.run(ref)), encoding="utf-8")
    return target


def failed_hosts(journal: Journal, ref: str | None = None) -> tuple[str, list[str]]:
    """Return (run id, hosts to run again) for `--rerun-failed [RUN]`; refuse an empty list."""
    run_id, hosts = journal.failed_hosts(ref)
    if not hosts:
        raise JournalError(f"run {run_id} has no failed or unreached host: nothing to rerun")
    return run_id, hosts


def expand_selectors(hosts: Sequence[str], journal: Journal) -> list[str]:
    """Replace `@failed` and `@failed:RUN` in a host list by those runs' failed and unreached
    hosts; keep the other names; drop repeats, keeping the first."""
    expanded: list[str] = []
    for name in hosts:
        match = FAILED_SELECTOR.match(name.strip())
        if match is None:
            expanded.append(name)
            continue
        _, found = journal.failed_hosts(match.group("run"))
        expanded += found
    return list(dict.fromkeys(expanded))
