"""The `corral` command: `corral [core options] task [task options] [task2 ...] [-- command]`,
or `corral [core options] BUILTIN [its options]` (`builtin.py`: history, show, inventory, ...).

click parses (the options are in `options.py`); tasks come from the corralfile (`loading.py`)
as click commands (`TaskCommand`), chained; the flags become a Config (`settings.py`); the
hosts come from -H, -G or --rerun-failed (`selection.py`); the `Executor` runs the calls as
one recorded run whose events feed every output (`run.py`). An error ends the run as click's
do: `show()` prints one line, `exit_code` is the status; tracebacks only with `--debug` or
for a task's own bug.
"""

from __future__ import annotations

import inspect
import logging
import sys
import traceback
from collections.abc import Sequence
from typing import Any, Protocol

import click
from click.shell_completion import ShellComplete

from ..compat.doctor import examine, render
from ..config import Config
from ..errors import USAGE_STATUS, CorralError, UsageError
from ..errors import CorralfileError as CorralfileError  # its home before errors.py had it
from ..events import EventBus
from ..executors import executor_for
from ..sync.portal import portal
from ..tasks.collection import Collection
from ..tasks.executor import Executor, remainder_call
from ..tasks.task import Call
from ..transport.agent import agent_keys
from . import loading
from .arguments import Argument, Arguments, ParserContext, ParseResult
from .builtin import BUILTINS, find_builtin, run_builtin
from .completion import COMPLETE_VAR
from .late import apply_late
from .listing import ListFormat, flat_rows, namespace, render_list, write_rows
from .loading import Loaded
from .options import (
    CoreOption,
    check_where_it_runs,
    core_params,
    group_limits,
    host_list,
    write_sections,
)
from .record import list_hosts, mask_argv, rerun_calls, run_settings
from .run import RunRecord, run_recorded, running_where
from .selection import rerun_failed_value, select
from .settings import build_config
from .signals import interrupt_status, interrupt_words, stop_on_signals
from .task_command import TaskCommand, parse_calls

_REMAINDER = "corral.remainder"
_TASK_ARGS = "corral.task_args"
_EXECUTOR = "corral.executor"
_ARGV = "corral.argv"


class ProgramHooks(Protocol):
    """What the command asks of a program built on corral (see cli/program.py)."""

    namespace: Collection | None
    executor_class: type[Executor]
    config_class: type[Config]
    config: Config
    args: Arguments
    core: ParseResult | None
    collection: Collection | None

    @property
    def binary(self) -> str: ...

    def core_args(self) -> list[Argument]: ...

    def update_config(self, merge: bool = True) -> None: ...

    def print_version(self) -> None: ...


class CorralGroup(click.Group):
    """The `corral` command: core options, then chained tasks from the corralfile (or, for a
    program built on corral, from its own collection)."""

    def __init__(self, program: ProgramHooks | None = None) -> None:
        self.program = program
        self.extras = program.core_args() if program is not None else []
        params = core_params()
        taken = {opt for param in params for opt in (*param.opts, *param.secondary_opts)}
        params += [extra_option(a) for a in self.extras if not set(flags_of(a)) & taken]
        super().__init__(
            name=program.binary if program is not None else "corral",
            params=params,
            chain=True,
            invoke_without_command=True,
            no_args_is_help=False,
            add_help_option=False,
            subcommand_metavar="[TASK [TASK OPTIONS]]... [-- COMMAND]",
            context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
            help="Run tasks from corralfile.py on hosts over SSH (or locally), "
            "or an ad-hoc command after --.",
        )

    @property
    def namespace(self) -> Collection | None:
        """A program's own collection (no corralfile is looked for), else None."""
        return self.program.namespace if self.program is not None else None

    # ------------------------------------------------------------------ parsing

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        ctx.meta[_ARGV] = ["corral", *args]
        if "--" in args:  # everything after -- is an ad-hoc command
            index = args.index("--")
            ctx.meta[_REMAINDER] = args[index + 1 :]
            args = args[:index]
        rest = super().parse_args(ctx, rerun_failed_value(args))
        protected = getattr(ctx, "_protected_args", None)
        if protected is None:  # click < 8.2
            protected = getattr(ctx, "protected_args", [])
        ctx.meta[_TASK_ARGS] = [*protected, *ctx.args]
        return rest

    def list_commands(self, ctx: click.Context) -> list[str]:
        loaded = loading.required(ctx, strict=False)
        return sorted(loaded.collection.task_names()) if loaded else []

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        loaded = loading.required(ctx, strict=False)
        if loaded is None or cmd_name not in loaded.collection:
            return None
        dotted, task = loaded.collection.resolve(cmd_name)
        return TaskCommand(dotted, task)

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        name = args[0]
        command = self.get_command(ctx, name)
        if command is None:
            if ctx.resilient_parsing:
                return None, None, args[1:]
            loaded = loading.required(ctx)  # no corralfile: that is the error to report
            assert loaded is not None
            raise click.UsageError(
                f"{loaded.collection.no_such_task(name)} (corral --list shows the tasks)", ctx
            )
        return command.name, command, args[1:]

    # ------------------------------------------------------------------ help

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return ["[CORE OPTIONS]", self.subcommand_metavar]

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        write_sections(ctx, formatter)
        self.format_commands(ctx, formatter)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Built-in commands (corral NAME --help for their options)"):
            formatter.write_dl([(b.name, b.summary) for b in BUILTINS.values()])
        loaded = loading.loaded(ctx)
        if isinstance(loaded, Loaded):
            with formatter.section(f"Tasks ({loaded.path})"):
                rows = flat_rows(loaded.collection)
                if rows:
                    write_rows(formatter, rows)
                else:
                    formatter.write_text("(none)")
        else:
            with formatter.section("Tasks"):
                formatter.write_text(str(loaded))

    def _show_help(self, ctx: click.Context, name: str) -> int:
        if not name:
            click.echo(self.get_help(ctx))
            return 0
        builtin = find_builtin(ctx, name, forced=bool(ctx.params.get("builtin")))
        if builtin is not None:
            return run_builtin(ctx, builtin, ["--help"])
        command = self.get_command(ctx, name)
        if command is None:
            self.resolve_command(ctx, [name])  # raises the right error
        assert command is not None
        sub = click.Context(command, info_name=command.name, parent=ctx)
        click.echo(command.get_help(sub))
        return 0

    def _show_list(
        self, ctx: click.Context, name: str, fmt: ListFormat, depth: int | None = None
    ) -> int:
        loaded = loading.required(ctx)
        assert loaded is not None
        source = str(loaded.path) if fmt != "json" and loaded.path is not None else None
        click.echo(render_list(namespace(loaded.collection, name), fmt, source, depth))
        return 0

    def _doctor(self, ctx: click.Context) -> int:
        if self.namespace is not None:
            raise UsageError("--doctor reads a corralfile or fabfile; this program has its own")
        path = loading.find(ctx.params)
        findings, notes = examine(path)
        click.echo(render(path, findings, notes))
        return 1 if any(f.status == "unsupported" for f in findings) else 0

    def _complete(self, ctx: click.Context, words: list[str]) -> int:
        """Print the completions of a command line (Invoke's --complete): its first word is
        the program, its last the word being completed."""
        words = words[1:]
        incomplete = words.pop() if words else ""
        completer = ShellComplete(self, {}, ctx.info_name or "corral", COMPLETE_VAR)
        for item in completer.get_completions(words, incomplete):
            click.echo(item.value)
        return 0

    def _info(self, ctx: click.Context) -> int | None:
        """Answer an option that shows something and exits (help, list, doctor), if given."""
        params = ctx.params
        if params["help_task"] is not None:
            return self._show_help(ctx, params["help_task"])
        if params["list_namespace"] is not None:
            return self._show_list(
                ctx, params["list_namespace"], params["list_format"], params["list_depth"]
            )
        if params["doctor"]:
            return self._doctor(ctx)
        return None

    # ------------------------------------------------------------------ running

    def _builtin(
        self, ctx: click.Context, words: list[str], remainder: list[str] | None
    ) -> int | None:
        """Run the built-in command the first word names (its status), else None."""
        if not words:
            if ctx.params["builtin"]:
                raise UsageError(f"--builtin needs a command: one of {', '.join(BUILTINS)}")
            return None
        builtin = find_builtin(ctx, words[0], forced=ctx.params["builtin"])
        if builtin is None:
            return None
        if remainder is not None:
            raise UsageError(f"corral {builtin.name} takes no command after --")
        return run_builtin(ctx, builtin, words[1:])

    def invoke(self, ctx: click.Context) -> Any:
        debug = bool(ctx.params.get("debug"))
        if debug:
            logging.basicConfig(format="%(name)s: %(message)s")
            logging.getLogger("corral").setLevel(logging.DEBUG)
            logging.getLogger("asyncssh").setLevel(logging.INFO)
        try:
            return self._run(ctx)
        except CorralError as exc:
            if debug:
                traceback.print_exception(exc)  # with its cause: a corralfile's own traceback
            exc.show()
            return exc.exit_code
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # a task's own bug: its traceback is what the user needs
            traceback.print_exc()
            where = running_where(ctx.meta[_EXECUTOR]) if _EXECUTOR in ctx.meta else ""
            first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
            click.echo(f"corral: {where}{type(exc).__name__}: {first}", err=True)
            return 1

    def _run(self, ctx: click.Context) -> int:
        params = ctx.params
        if params["demo"]:
            from ..testing.demo import run_demo  # the test kit, only when asked for

            return run_demo(hosts=params["demo_hosts"], embedded=params["demo_embedded"])
        remainder: list[str] | None = ctx.meta.get(_REMAINDER)
        if params["complete"]:
            return self._complete(ctx, remainder or [])
        if params["list_agent_keys"]:
            return _list_agent_keys()
        shown = self._info(ctx)
        if shown is not None:
            return shown
        task_args: list[str] = ctx.meta.get(_TASK_ARGS, [])
        builtin = self._builtin(ctx, task_args, remainder)
        if builtin is not None:
            return builtin
        if remainder is not None and not remainder:
            raise click.UsageError("nothing after --; give a command: corral -H HOST -- uname -a")
        late: list[str] = []
        calls = parse_calls(self, ctx, task_args, late)
        if late:  # core options after a task name: `corral deploy --dry`
            apply_late(self, ctx, late)
            shown = self._info(ctx)
            if shown is not None:
                return shown
        selecting = bool(
            host_list(params["hosts"])
            or params["group"]
            or params["limit"]
            or params["rerun_failed"] is not None
        )
        check_where_it_runs(selecting, remainder, local=params["local"])
        rerun = params["rerun_failed"] is not None and not calls and remainder is None
        loaded = loading.required(ctx, strict=bool(calls))
        program = self.program
        config = build_config(
            params, loaded, program.config_class if program is not None else Config
        )
        if params["list_hosts"]:  # without a selection, the tasks' own hosts
            chosen = (
                select(params, config, loaded, list_only=True) if selecting or not calls else None
            )
            return list_hosts(chosen, calls, loaded, config, params["output"])
        selection = select(params, config, loaded)
        if selection is not None and selection.rerun is not None and rerun:
            calls, remainder = rerun_calls(self, ctx, selection.rerun)
        if not calls and remainder is None:
            if loaded is not None and loaded.collection.default is not None:
                calls = [Call(loaded.collection[""], called_as=loaded.collection.default)]
            else:
                click.echo(self.get_help(ctx))
                return USAGE_STATUS
        collection = loaded.collection if loaded is not None else Collection()
        core = core_parse(self, ctx, remainder, task_args)
        if program is not None:  # the program's hook sees (and may change) the config
            program.config, program.core, program.collection = config, core, collection
            program.args = core[0].args
            program.update_config()
            config = program.config
        if remainder:
            calls.append(remainder_call(" ".join(remainder)))
        limits = group_limits(params)
        record = RunRecord(
            argv=mask_argv(ctx.meta.get(_ARGV, ["corral"])),
            selection=selection.text if selection is not None else "",
            settings=run_settings(params, limits, task_args, selection),
        )
        executor_class = program.executor_class if program is not None else Executor
        executor = executor_class(
            collection,
            config,
            selection.hosts if selection is not None else (),
            group=limits,
            connections=selection.connections if selection is not None else None,
            core=core,
            events=EventBus(),
            **_executor_arguments(executor_class, config, loaded),
        )
        ctx.meta[_EXECUTOR] = executor
        return run_recorded(executor, calls, params["output"], record)

    # ------------------------------------------------------------------ entry point

    def main(  # type: ignore[override]
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> int:
        """Run the command line; return (or, standalone, exit with) its status."""
        try:
            with stop_on_signals():  # TERM and HUP stop the run as Ctrl-C does
                status = super().main(
                    args, prog_name or "corral", complete_var or COMPLETE_VAR,
                    standalone_mode=False, **extra,
                )  # fmt: skip
        except click.ClickException as exc:
            click.echo(f"corral: {_one_line(exc)}", err=True)
            status = exc.exit_code
        except click.Abort as exc:  # interrupted before the run began: click's Abort
            click.echo(f"corral: {interrupt_words(exc.__cause__)}", err=True)
            status = interrupt_status(exc.__cause__)
        status = status if isinstance(status, int) else 0
        if standalone_mode:
            sys.exit(status)
        return status


def _executor_arguments(
    executor_class: type[Executor], config: Config, loaded: Loaded | None
) -> dict[str, Any]:
    """Return the group executor config `executor.kind` asks for (and the corralfile its
    workers import), for an Executor that takes them (a program's own class may not)."""
    group_executor = executor_for(config)
    if group_executor is None:
        return {}
    try:
        accepted = inspect.signature(executor_class).parameters
    except (TypeError, ValueError):
        accepted = {}  # type: ignore[assignment]
    if "group_executor" not in accepted:
        raise UsageError(
            f"--executor {getattr(group_executor, 'name', '')}: {executor_class.__name__} "
            "does not take a group executor; run without --executor"
        )
    path = loaded.path if loaded is not None else None
    return {"group_executor": group_executor, "source": path}


def _list_agent_keys() -> int:
    """Print the ssh-agent's keys as `ssh-add -l` does (--list-agent-keys)."""
    keys = portal.call(agent_keys)
    for key in keys:
        click.echo(str(key))
    if not keys:
        click.echo("corral: the ssh-agent holds no keys", err=True)
    return 0


def flags_of(argument: Argument) -> list[str]:
    """Return the command-line flags of a program's Argument: -x, --long-name."""
    return [f"-{n}" if len(n) == 1 else f"--{n.replace('_', '-')}" for n in argument.names]


def extra_option(argument: Argument) -> click.Option:
    """Return the click option of an Argument a program adds (Program.core_args)."""
    kwargs: dict[str, Any] = {"help": argument.help, "section": "Program options"}
    if argument.incrementable:
        kwargs.update(count=True, default=argument.default or 0)
    elif argument.kind is bool:
        kwargs.update(is_flag=True, default=bool(argument.default))
    elif argument.kind is list:
        kwargs.update(multiple=True, default=argument.default or ())
    else:
        kwargs.update(type=argument.kind, default=argument.default)
        if argument.optional:
            kwargs.update(is_flag=False, flag_value=True)
    dest = "extra_" + argument.name.replace("-", "_")
    return CoreOption([*flags_of(argument), dest], **kwargs)


def core_parse(
    group: CorralGroup, ctx: click.Context, remainder: list[str] | None, unparsed: list[str]
) -> ParseResult:
    """Return the command line as Invoke's ParseResult (for Executor.core, Program.args):
    the core options by their names, -H as Fabric's comma-joined string, the remainder."""
    arguments = []
    for param in group.get_params(ctx):
        if not isinstance(param, click.Option) or param.name is None:
            continue
        if param.name.startswith("extra_"):
            continue
        names = [opt.lstrip("-") for opt in param.opts]
        argument = Argument(names=sorted(names, key=len, reverse=True))
        value = ctx.params.get(param.name)
        argument.value = ",".join(host_list(value)) if param.name == "hosts" and value else value
        arguments.append(argument)
    by_flag = _opts_by_name(group, ctx)
    for extra in group.extras:  # its own option, or corral's of the same name (-H, -i)
        found = next((by_flag[f] for f in flags_of(extra) if f in by_flag), None)
        if found is not None and found.name is not None:
            value = ctx.params.get(found.name)
            extra.value = list(value) if isinstance(value, tuple) else value
        arguments.append(extra)
    parse = ParseResult([ParserContext(args=arguments)])
    parse.remainder = " ".join(remainder or [])
    parse.unparsed = list(unparsed)
    return parse


def _opts_by_name(group: CorralGroup, ctx: click.Context) -> dict[str, click.Parameter]:
    return {
        opt: param
        for param in group.get_params(ctx)
        for opt in (*param.opts, *getattr(param, "secondary_opts", ()))
    }


def _one_line(exc: click.ClickException) -> str:
    """Return a click error as one line; a usage error says where to look for help."""
    message = " ".join(exc.format_message().split())
    if not isinstance(exc, click.UsageError):
        return message
    command = exc.ctx.command if exc.ctx is not None else None
    if isinstance(command, TaskCommand):
        return f"{command.name}: {message} (see corral --help {command.name})"
    if "corral --" in message:  # it says where to look already
        return message
    return f"{message} (see corral --help)"


cli = CorralGroup()


def main(argv: list[str] | None = None) -> int:
    """Run the corral command line and return its exit status."""
    return cli.main(argv, prog_name="corral", standalone_mode=False)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
