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

import logging
import sys
import traceback
from collections.abc import Sequence
from typing import Any

import click

from ..errors import USAGE_STATUS, CorralError, UsageError
from ..errors import CorralfileError as CorralfileError  # its home before errors.py had it
from ..events import EventBus
from ..tasks.collection import Collection
from ..tasks.executor import Executor, remainder_call
from ..tasks.task import Call
from . import loading
from .builtin import BUILTINS, find_builtin, run_builtin
from .completion import COMPLETE_VAR
from .listing import ListFormat, flat_rows, namespace, render_list, write_rows
from .loading import Loaded
from .options import check_where_it_runs, core_params, group_limits, host_list, write_sections
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


class CorralGroup(click.Group):
    """The `corral` command: core options, then chained tasks from the corralfile."""

    def __init__(self) -> None:
        super().__init__(
            name="corral",
            params=core_params(),
            chain=True,
            invoke_without_command=True,
            no_args_is_help=False,
            add_help_option=False,
            subcommand_metavar="[TASK [TASK OPTIONS]]... [-- COMMAND]",
            context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
            help="Run tasks from corralfile.py on hosts over SSH (or locally), "
            "or an ad-hoc command after --.",
        )

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

    def _show_list(self, ctx: click.Context, name: str, fmt: ListFormat) -> int:
        loaded = loading.required(ctx)
        assert loaded is not None
        source = str(loaded.path) if fmt != "json" else None
        click.echo(render_list(namespace(loaded.collection, name), fmt, source))
        return 0

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
        if params["help_task"] is not None:
            return self._show_help(ctx, params["help_task"])
        if params["list_namespace"] is not None:
            return self._show_list(ctx, params["list_namespace"], params["list_format"])
        remainder: list[str] | None = ctx.meta.get(_REMAINDER)
        task_args: list[str] = ctx.meta.get(_TASK_ARGS, [])
        builtin = self._builtin(ctx, task_args, remainder)
        if builtin is not None:
            return builtin
        if remainder is not None and not remainder:
            raise click.UsageError("nothing after --; give a command: corral -H HOST -- uname -a")
        selecting = bool(
            host_list(params["hosts"])
            or params["group"]
            or params["limit"]
            or params["rerun_failed"] is not None
        )
        check_where_it_runs(selecting, remainder, local=params["local"])
        calls = parse_calls(self, ctx, task_args)
        rerun = params["rerun_failed"] is not None and not calls and remainder is None
        loaded = loading.required(ctx, strict=bool(calls))
        config = build_config(params, loaded)
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
        if remainder:
            calls.append(remainder_call(" ".join(remainder)))
        limits = group_limits(params)
        record = RunRecord(
            argv=mask_argv(ctx.meta.get(_ARGV, ["corral"])),
            selection=selection.text if selection is not None else "",
            settings=run_settings(params, limits, task_args, selection),
        )
        executor = Executor(
            loaded.collection if loaded is not None else Collection(),
            config,
            selection.hosts if selection is not None else (),
            group=limits,
            connections=selection.connections if selection is not None else None,
            events=EventBus(),
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
