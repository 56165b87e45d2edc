"""The journal's built-in commands: `corral history`, `corral show RUN`, `corral report RUN
-o FILE` and `corral journal check|vacuum|prune`. Each parses its flags and calls
`corral.journal.commands`; the journal is the one the config points at (`journal.*`)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click
from rich.console import Console

from ..journal import Journal
from ..journal import commands as journal
from .builtin import builtin_config

OUTPUT = click.Choice(["text", "json"])
STATUSES = ["ok", "failed", "skipped", "interrupted", "running", "pending"]


@contextmanager
def _journal(ctx: click.Context) -> Iterator[Journal]:
    """The journal the config names, opened for reading (and closed after)."""
    opened = journal.journal_for_reading(builtin_config(ctx))
    try:
        yield opened
    finally:
        opened.close()


#: Columns of the tables when stdout is not a terminal (a pipe, a file): wide, not cut.
PIPE_WIDTH = 200


def _console() -> Console:
    console = Console(file=sys.stdout, highlight=False)
    if not console.is_terminal:
        console = Console(file=sys.stdout, highlight=False, width=PIPE_WIDTH)
    return console


@click.command(
    "history",
    help="List recent runs, newest first: when, who, what, hosts ok/failed/skipped, time, "
    "status. With --host, the runs that had that host (--status then filters on the host's "
    "outcome).",
)
@click.option("--host", metavar="HOST", help="Runs that had this host (globs: web*).")
@click.option("--task", "what", metavar="TEXT", help="Runs whose tasks or command contain TEXT.")
@click.option("--status", type=click.Choice(STATUSES), help="Runs (or the host) with this outcome.")
@click.option("--since", metavar="WHEN", help="Started at or after: 2026-12-01, today, 3d.")
@click.option("--until", metavar="WHEN", help="Started before: 2026-12-01T10:30, yesterday, 12h.")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True,
              help="How many runs at most (0: all).")  # fmt: skip
@click.option("--output", type=OUTPUT, default="text", show_default=True,
              help="text, or json (one run per line).")  # fmt: skip
@click.pass_context
def history_command(ctx: click.Context, /, **options: Any) -> int:
    """List recent runs."""
    with _journal(ctx) as opened:
        return journal.history(opened, _console(), **options)


@click.command(
    "show",
    help="Show one run (the latest without RUN): how it was started, each "
    "host's outcome, failures first with their error and output tail, diffs.",
)
@click.argument("run", required=False, metavar="[RUN]")
@click.option(
    "--output",
    type=OUTPUT,
    default="text",
    show_default=True,
    help="text, or json (the whole run as one object).",
)
@click.pass_context
def show_command(ctx: click.Context, run: str | None, output: str) -> int:  # fmt: skip
    """Show one run."""
    with _journal(ctx) as opened:
        return journal.show(opened, run, _console(), output="json" if output == "json" else "text")


@click.command(
    "report",
    help="Write one run (the latest without RUN) as a self-contained "
    "HTML page: summary, a timeline of every host, failures first, each host's "
    "output with a search box.",
)
@click.argument("run", required=False, metavar="[RUN]")
@click.option(
    "-o",
    "--output",
    "path",
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Where to write it (default: RUN.html here).",
)
@click.pass_context
def report_command(ctx: click.Context, run: str | None, path: str | None) -> int:  # fmt: skip
    """Write a run's HTML report."""
    with _journal(ctx) as opened:
        if path is None:
            path = f"{opened.run(run).run_id}.html"
        written = journal.report(opened, run, path)
    click.echo(f"{written} (run {run or 'latest'})")
    return 0


@click.group("journal", help="Look after the run journal (journal.path or journal.url).")
def journal_command() -> None:
    """The journal's maintenance commands."""


@journal_command.command(
    "check",
    help="Check the journal's integrity (SQLite's check, the "
    "schema, rows without their run); exit 1 on a problem.",
)
@click.pass_context
def check_command(ctx: click.Context) -> int:  # fmt: skip
    """Check the journal."""
    with _journal(ctx) as opened:
        return journal.check(opened, _console())


@journal_command.command("vacuum", help="Give the space of deleted runs back to the system.")
@click.pass_context
def vacuum_command(ctx: click.Context) -> int:
    """Vacuum the journal."""
    with _journal(ctx) as opened:
        return journal.vacuum(opened, _console())


@journal_command.command("prune", help="Delete the runs started longer ago than AGE.")
@click.option(
    "--older-than", "age", metavar="AGE", required=True, help="An age: 30d, 12h, 2w, 90m."
)
@click.pass_context
def prune_command(ctx: click.Context, age: str) -> int:  # fmt: skip
    """Prune old runs."""
    with _journal(ctx) as opened:
        return journal.prune(opened, age, _console())
