"""The inventory's built-in commands: `corral inventory --list|--graph|--host NAME` (what
the inventory resolves to, as `ansible-inventory` shows it) and `corral facts` (what each
selected host is). Sources: `-I FILE` (before or after the command's name), else config
`inventory.sources`, else the project's inventory file, else @ssh_config."""

from __future__ import annotations

import sys
from typing import Any

import click
from rich.console import Console

from ..errors import GroupException, UsageError
from ..inventory import inventory_sources
from ..inventory.render import (
    facts_json,
    host_vars_json,
    inventory_json,
    render_facts,
    render_graph,
    render_host,
    render_hosts,
    render_json,
)
from ..sync.connection import Connection
from ..sync.group import Group
from ..sync.inventory import Inventory
from ..tasks.loader import project_directory
from . import loading
from .builtin import builtin_config, core_params
from .journal_commands import PIPE_WIDTH
from .selection import failed_lists, select

OUTPUT = click.Choice(["text", "json"])


def _selection_options(command: Any) -> Any:
    """Add -I/--inventory, -G/--group and --limit (also accepted before the command)."""
    for decorator in reversed(
        [
            click.option("-I", "--inventory", "inventory", multiple=True, metavar="FILE",
                         help="Inventory source (repeatable); adds to the core -I."),
            click.option("-G", "--group", "group", metavar="PATTERN",
                         help="Host pattern: web:&prod:!web03, role=web, ~regex, @failed."),
            click.option("--limit", metavar="PATTERN", help="Narrow the pattern further."),
            click.option("--output", type=OUTPUT, default="text", show_default=True,
                         help="text (tables), or json."),
        ]
    ):  # fmt: skip
        command = decorator(command)
    return command


def _params(ctx: click.Context, inventory: tuple[str, ...], group: str | None,
            limit: str | None) -> dict[str, Any]:  # fmt: skip
    """The core options with the command's own -I, -G and --limit over them."""
    params = core_params(ctx)
    params["inventory"] = (*(params.get("inventory") or ()), *inventory)
    if group is not None:
        params["group"] = group
    if limit is not None:
        params["limit"] = limit
    return params


def _console() -> Console:
    console = Console(file=sys.stdout, highlight=False)
    if not console.is_terminal:  # a pipe or a file: wide tables, not cut at 80 columns
        console = Console(file=sys.stdout, highlight=False, width=PIPE_WIDTH)
    return console


def _warn(inventory: Inventory) -> None:
    for warning in inventory.warnings:
        click.echo(f"corral: inventory: {warning}", err=True)


@click.command(
    "inventory",
    help="Show the inventory as corral resolves it: --list (a table of the hosts, the "
    "default), --graph [GROUP] (the group tree), --host NAME (its settings and merged vars, "
    "each with where it came from); --output json gives ansible-inventory's JSON.",
)
@click.option("--list", "as_list", is_flag=True, help="A table of the hosts (the default).")
@click.option(
    "--graph",
    "graph",
    is_flag=False,
    flag_value="all",
    default=None,
    metavar="[GROUP]",
    help="The group tree from GROUP (default: all).",
)
@click.option("--host", "host", metavar="NAME", help="One host's settings and vars.")
@click.option("--vars", "show_vars", is_flag=True, help="With --graph: show the vars too.")
@click.option(
    "--export",
    is_flag=True,
    help="With --output json: each level's own vars, not merged (Ansible's --export).",
)
@_selection_options
@click.pass_context
def inventory_command(
    ctx: click.Context,
    as_list: bool,
    graph: str | None,
    host: str | None,
    show_vars: bool,
    export: bool,
    inventory: tuple[str, ...],
    group: str | None,
    limit: str | None,
    output: str,
) -> int:
    """Show the inventory."""
    if sum((as_list, graph is not None, host is not None)) > 1:
        raise UsageError("corral inventory: give one of --list, --graph and --host")
    params = _params(ctx, inventory, group, limit)
    config = builtin_config(ctx)
    loaded = loading.required(ctx.find_root(), strict=False)
    project = (
        project_directory(loaded.path) if loaded is not None and loaded.path is not None else None
    )
    sources = inventory_sources(
        list(params["inventory"]),
        config=config,
        project_dir=project,
        hooks=loaded.collection.inventory_hooks if loaded is not None else (),
    )
    loaded_inventory = Inventory.load(*sources, config=config, project_dir=project)
    _warn(loaded_inventory)
    console = _console()
    if host is not None:
        found = loaded_inventory.host(host)
        if output == "json":
            render_json(console, host_vars_json(found))
        else:
            render_host(console, found)
        return 0
    hosts = None
    if params.get("group") is not None or params.get("limit") is not None:
        pattern, lists = failed_lists(params.get("group") or "all", config)
        narrow, more = failed_lists(params["limit"], config) if params.get("limit") else (None, {})
        hosts = loaded_inventory.select_hosts(pattern, narrow, host_lists={**lists, **more})
    if output == "json":
        render_json(console, inventory_json(loaded_inventory, hosts, export=export))
    elif graph is not None:
        render_graph(console, loaded_inventory, graph, show_vars=show_vars)
    else:
        render_hosts(console, loaded_inventory.hosts if hosts is None else hosts)
    return 0


@click.command(
    "facts",
    help="Gather the facts of the selected hosts (one round trip each; -G PATTERN, or -H "
    "before the command; default: every host of the inventory) and show them: a table, or "
    "--output json keyed by host. Exit 1 when some host could not be read.",
)
@_selection_options
@click.pass_context
def facts_command(
    ctx: click.Context,
    inventory: tuple[str, ...],
    group: str | None,
    limit: str | None,
    output: str,
) -> int:
    """Gather and show facts."""
    params = _params(ctx, inventory, group, limit)
    config = builtin_config(ctx)
    loaded = loading.required(ctx.find_root(), strict=False)
    selection = select(params, config, loaded, list_only=False)
    if selection is None:  # no selection: the whole inventory
        params["group"] = "all"
        selection = select(params, config, loaded, list_only=False)
    assert selection is not None
    if selection.connections:
        made = [Connection.twin(selection.connections[h]) for h in selection.hosts]
        group_of_hosts = Group.from_connections(made)
    else:
        group_of_hosts = Group(*selection.hosts, config=config)
    with group_of_hosts:
        try:
            result = group_of_hosts.facts()
        except GroupException as exc:
            result = exc.result
    facts = {str(getattr(c, "original_host", c)): value for c, value in result.items()}
    console = _console()
    if output == "json":
        render_json(console, facts_json(facts))
    else:
        render_facts(console, facts)
    return 1 if any(isinstance(value, BaseException) for value in facts.values()) else 0
