"""Core options after a task name (`corral deploy --dry -H web1`), as Invoke takes them: the
task's own options win; the rest are the command's, applied once every task is parsed."""

from __future__ import annotations

from collections.abc import Sequence

import click
from click.core import ParameterSource

from ..config import merge_dicts
from ..errors import UsageError

#: Options that choose the corralfile: read before any task name is, so they must come first.
FIRST = ("search_root", "collection", "write_pyc")


def apply_late(group: click.Command, ctx: click.Context, tokens: Sequence[str]) -> None:
    """Parse core options found after task names and apply them over the earlier ones: a
    repeatable option (-H, -i) adds to them, --set merges, any other replaces."""
    sub = click.Context(group, info_name=ctx.info_name)
    click.Command.parse_args(group, sub, list(tokens))
    for param in group.get_params(ctx):
        name = param.name
        if name is None or sub.get_parameter_source(name) is not ParameterSource.COMMANDLINE:
            continue
        if name in FIRST:
            option = param.opts[-1] if param.opts else name
            raise UsageError(f"{option} chooses the corralfile: give it before the task names")
        value = sub.params[name]
        if name == "sets":
            ctx.params[name] = merge_dicts(dict(ctx.params.get(name) or {}), value)
        elif getattr(param, "multiple", False):
            ctx.params[name] = (*ctx.params.get(name, ()), *value)
        else:
            ctx.params[name] = value
