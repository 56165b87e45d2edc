"""`TaskCommand`: a task as a click command, its options made from the task's arguments.

`--branch main`/`-b main`, booleans as `--flag/--no-flag`, repeatable (iterable) and counted
(incrementable) options, and positional arguments, which may also be given by flag (Invoke).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import click

from ..tasks.argument import Argument
from ..tasks.task import Call, Task

_CLICK_TYPES: dict[type, click.ParamType[Any]] = {
    str: click.STRING,
    int: click.INT,
    float: click.FLOAT,
    bool: click.BOOL,
}
#: ctx.params key of the flag form of a positional argument.
_FLAG_FORM = "{}__flag"


class OptionalValue(click.ParamType):  # type: ignore[type-arg]
    """A value that may be left out: `--log` gives True, `--log FILE` gives the value."""

    def __init__(self, inner: click.ParamType[Any]) -> None:
        self.inner = inner
        self.name = inner.name

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if value is True:
            return True
        return self.inner.convert(value, param, ctx)


def _names(argument: Argument, long: str, dest: str | None = None) -> list[str]:
    names = [long, f"-{argument.short}"] if argument.short else [long]
    return [*names, dest or argument.name]


def _has_default(argument: Argument) -> bool:
    return argument.default is not None and argument.default != []


def task_params(argument: Argument) -> list[click.Parameter]:
    """Return the click parameters for one task argument."""
    click_type = _CLICK_TYPES.get(argument.type, click.STRING)
    help_text = argument.help
    if argument.kind == "flag":
        dashed = argument.flag.removeprefix("--")
        names = [f"{argument.flag}/--no-{dashed}"]
        if argument.short:
            names.append(f"-{argument.short}")
        return [
            click.Option(
                [*names, argument.name],
                default=argument.default,
                help=help_text,
                show_default=bool(argument.default),
            )
        ]
    if argument.kind == "count":
        return [
            click.Option(
                _names(argument, argument.flag),
                count=True,
                default=argument.default,
                help=help_text,
            )
        ]
    if argument.kind == "list":
        return [
            click.Option(
                _names(argument, argument.flag),
                multiple=True,
                type=click_type,
                default=list(argument.default),
                help=(help_text + " " if help_text else "") + "(repeatable)",
            )
        ]
    if argument.kind == "optional":
        return [
            click.Option(
                _names(argument, argument.flag),
                is_flag=False,
                flag_value=True,
                type=OptionalValue(click_type),
                default=argument.default,
                help=help_text,
                show_default=_has_default(argument),
            )
        ]
    if argument.positional:
        metavar = argument.name.upper()
        return [
            click.Argument(
                [argument.name],
                required=False,
                type=click_type,
                metavar=metavar if argument.required else f"[{metavar}]",
            ),
            click.Option(
                _names(argument, argument.flag, _FLAG_FORM.format(argument.name)),
                type=click_type,
                default=None,
                metavar=metavar,
                help=" ".join(
                    part
                    for part in (
                        help_text,
                        f"(or give {metavar} without the flag)",
                        f"[default: {argument.default}]" if _has_default(argument) else None,
                    )
                    if part
                ),
            ),
        ]
    return [
        click.Option(
            _names(argument, argument.flag),
            type=click_type,
            default=argument.default,
            required=argument.required,
            help=help_text,
            show_default=_has_default(argument),
        )
    ]


class TaskCommand(click.Command):
    """A task as a click command; `call_kwargs(ctx)` gives what its function is called with."""

    def __init__(self, name: str, task: Task[..., Any]) -> None:
        self.task = task
        params = [param for argument in task.arguments() for param in task_params(argument)]
        super().__init__(
            name,
            params=params,
            help=task.docstring or None,
            short_help=task.summary or None,
            no_args_is_help=False,
        )

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        rest = super().parse_args(ctx, args)
        for argument in self.task.arguments():
            if argument.kind == "list":
                ctx.params[argument.name] = list(ctx.params.get(argument.name) or ())
            if not argument.positional:
                continue
            given = ctx.params.get(argument.name)
            flagged = ctx.params.pop(_FLAG_FORM.format(argument.name), None)
            if given is not None and flagged is not None and given != flagged:
                raise click.UsageError(
                    f"{argument.name.upper()} given twice ({given!r} and {argument.flag} "
                    f"{flagged!r})",
                    ctx,
                )
            value = given if given is not None else flagged
            if value is None and argument.required and not ctx.resilient_parsing:
                raise click.UsageError(
                    f"missing {argument.name.upper()} (give it, or {argument.flag} VALUE)", ctx
                )
            ctx.params[argument.name] = argument.default if value is None else value
        return rest

    def split_args(
        self,
        args: list[str],
        is_task: Callable[[str], bool],
        core: Mapping[str, click.Option] | None = None,
        late: list[str] | None = None,
    ) -> tuple[list[str], list[str]]:
        """Split tokens into this task's and the rest (the next task onwards).

        Options may come before or after positional arguments (`deploy web -b dev`); once the
        positional arguments are filled, the next word that is not an option's value starts
        the next task. An option the task does not have but the command does (`core`, by
        name) goes to `late` with its value, as Invoke takes core flags after a task name
        (`corral deploy --dry`); `-h` is the task's help.
        """
        options = {
            name: param
            for param in self.params
            if isinstance(param, click.Option)
            for name in (*param.opts, *param.secondary_opts)
        }
        positional = sum(1 for param in self.params if isinstance(param, click.Argument))
        flag_forms = {_FLAG_FORM.format(a.name) for a in self.task.arguments() if a.positional}

        def wants_value(option: click.Option | None, following: str | None) -> bool:
            if option is None or option.is_flag or option.count:
                return False
            if option._flag_needs_value:  # an optional value: only a plain word
                return (
                    following is not None
                    and not following.startswith("-")
                    and not is_task(following)
                )
            return True

        mine: list[str] = []
        index = 0
        while index < len(args):
            token = args[index]
            following = args[index + 1] if index + 1 < len(args) else None
            index += 1
            if token == "-" or not token.startswith("-"):
                if positional == 0:
                    index -= 1
                    break
                positional -= 1
                mine.append(token)
                continue
            name = token.partition("=")[0] if token.startswith("--") else token[:2]
            if name not in options and core is not None and late is not None:
                if token in ("-h", "--help"):  # help for this task, not corral's
                    mine.append("--help")
                    continue
                if name in core:
                    late.append(token)
                    takes_value = not (core[name].is_flag or core[name].count)
                    attached = "=" in token if token.startswith("--") else len(token) > 2
                    if takes_value and not attached and following is not None:
                        late.append(following)
                        index += 1
                    continue
            mine.append(token)
            if token.startswith("--"):
                name, equals, _ = token.partition("=")
                option = options.get(name)
                needs = not equals and wants_value(option, following)
            else:  # a cluster of short flags: -vvv, -bdev
                needs = False
                for position, char in enumerate(token[1:], start=2):
                    option = options.get(f"-{char}")
                    if option is None or not (option.is_flag or option.count):
                        needs = position == len(token) and wants_value(option, following)
                        break
            if option is not None and option.name in flag_forms:  # a positional, by flag
                flag_forms.discard(option.name)
                positional -= 1
            if needs and following is not None:
                mine.append(following)
                index += 1
        return mine, args[index:]

    def call_kwargs(self, ctx: click.Context) -> dict[str, Any]:
        """Return the keyword arguments for the task function, from a parsed context."""
        return dict(ctx.params)


def parse_calls(
    group: click.Group, ctx: click.Context, args: list[str], late: list[str] | None = None
) -> list[Call]:
    """Parse the chained tasks after the core options, each with its own options, into Calls;
    core options given after a task name go to `late` (when given) with their values.

    Every task is parsed before any runs: a misspelt second task fails before the first.
    """
    core = {
        name: param
        for param in group.params
        if isinstance(param, click.Option)
        for name in (*param.opts, *param.secondary_opts)
    }
    args = list(args)
    calls = []
    while args:
        name, command, args = group.resolve_command(ctx, args)
        assert isinstance(command, TaskCommand) and name is not None
        mine, args = command.split_args(
            args, lambda word: group.get_command(ctx, word) is not None, core, late
        )
        sub = command.make_context(name, mine, parent=ctx)
        calls.append(Call(command.task, (), command.call_kwargs(sub), called_as=name))
    return calls
