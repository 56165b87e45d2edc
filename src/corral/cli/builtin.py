"""Built-in commands: `corral inventory`, `facts`, `history`, `show`, `report`, `journal`.

A built-in is the first word after the core options, as a task is, and takes its own
options after its name (`corral -f prod.yaml history --host web3`). One mechanism serves
every built-in: `BUILTINS` maps each name to the click command that implements it (made on
first use); adding a built-in is one entry there.

A task of the corralfile with the same name wins, so an existing fabfile keeps working:
corral then says once, on stderr, that the task shadows the built-in and that `corral
--builtin NAME ...` reaches it. Without a corralfile the built-ins simply run; a corralfile
that fails to load is reported (its tasks cannot be known) unless --builtin is given.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click

from ..config import Config
from ..errors import CollectionNotFound, CorralError, UsageError
from . import loading
from .settings import build_config

#: Where `corral.builtin_notice` is kept in the root context: the notice is said once.
_NOTICE = "corral.builtin_notice"


@dataclass(frozen=True)
class Builtin:
    """A built-in command: its name, its one-line summary, and where its click command is."""

    name: str
    summary: str
    #: "module:attribute" of the click command (imported when the built-in is used).
    target: str

    def command(self) -> click.Command:
        """Return the click command that implements the built-in."""
        module, _, attribute = self.target.partition(":")
        found = getattr(importlib.import_module(module), attribute)
        assert isinstance(found, click.Command)
        return found


BUILTINS: dict[str, Builtin] = {
    builtin.name: builtin
    for builtin in (
        Builtin(
            "inventory",
            "Show the inventory: --list (hosts), --graph (groups), --host NAME (its vars).",
            "corral.cli.inventory_commands:inventory_command",
        ),
        Builtin(
            "facts",
            "Gather and show the facts of the selected hosts (-G PATTERN).",
            "corral.cli.inventory_commands:facts_command",
        ),
        Builtin(
            "history",
            "List recent runs from the journal (filters: --host, --task, --status, --since).",
            "corral.cli.journal_commands:history_command",
        ),
        Builtin(
            "show",
            "Show one run: each host's outcome, failures first, with their output.",
            "corral.cli.journal_commands:show_command",
        ),
        Builtin(
            "report",
            "Write one run as a self-contained HTML page (-o FILE).",
            "corral.cli.journal_commands:report_command",
        ),
        Builtin(
            "journal",
            "Look after the journal: check, vacuum, prune --older-than 30d.",
            "corral.cli.journal_commands:journal_command",
        ),
    )
}


def find_builtin(ctx: click.Context, name: str, *, forced: bool) -> Builtin | None:
    """Return the built-in `name` runs, or None when it is a task (or not a built-in).

    `forced` (--builtin): the word must be a built-in, whatever the corralfile has.
    """
    builtin = BUILTINS.get(name)
    if forced:
        if builtin is None:
            raise UsageError(
                f"--builtin: no built-in command {name!r} (built-ins: {', '.join(BUILTINS)})"
            )
        return builtin
    if builtin is None:
        return None
    found = loading.loaded(ctx)
    if isinstance(found, CollectionNotFound):
        return builtin
    if isinstance(found, CorralError):
        raise found  # its tasks cannot be known: a task of this name might be meant
    if name in found.collection:
        say_shadowed(ctx, name, found.path)
        return None
    return builtin


def say_shadowed(ctx: click.Context, name: str, path: Any) -> None:
    """Say (once) that a task of the corralfile shadows a built-in, and how to reach it."""
    root = ctx.find_root()
    if root.meta.get(_NOTICE):
        return
    root.meta[_NOTICE] = True
    click.echo(
        f"corral: note: task {name!r} of {path} shadows the built-in `corral {name}`; "
        f"run the built-in with `corral --builtin {name} ...`",
        err=True,
    )


def run_builtin(ctx: click.Context, builtin: Builtin, args: Sequence[str]) -> int:
    """Parse a built-in's own arguments and run it; return its exit status."""
    command = builtin.command()
    with command.make_context(builtin.name, list(args), parent=ctx) as sub:
        status = command.invoke(sub)
    return status if isinstance(status, int) else 0


def builtin_config(ctx: click.Context) -> Config:
    """Return the Config a built-in reads (the core options over every config level)."""
    root = ctx.find_root()
    return build_config(root.params, loading.required(root, strict=False))


def core_params(ctx: click.Context) -> dict[str, Any]:
    """Return the core options of the command line (those before the built-in's name)."""
    return dict(ctx.find_root().params)
