"""The `corral` command: `corral [core options] task [task options] [task2 ...] [-- command]`.

click parses; tasks come from the corralfile as click commands (`TaskCommand`), chained; the
`Executor` runs them. Errors end in one line on stderr (tracebacks only with `--debug`).
"""

from __future__ import annotations

import getpass
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from .. import __version__
from ..config import Secret, load_config, merge_dicts, parse_set
from ..config.config import Config
from ..errors import CollectionNotFound, ConfigError, CorralError
from ..tasks.collection import Collection
from ..tasks.executor import Executor, remainder_call
from ..tasks.loader import find_collection, load_collection, project_directory
from ..tasks.task import Call
from .completion import COMPLETE_VAR, SHELLS, complete_hosts, completion_script
from .errors import INTERRUPTED_STATUS, USAGE_STATUS, describe, exit_status
from .listing import ListFormat, flat_rows, render_list
from .reporting import run_with_reports
from .task_command import TaskCommand

SECTIONS = (
    "Hosts and connections",
    "Running commands",
    "Many hosts",
    "Configuration",
    "Corralfile and help",
    "Other",
)
HIDE_CHOICES = {"out": "out", "err": "err", "both": "both", "none": False}

_LOADED = "corral.loaded"
_REMAINDER = "corral.remainder"
_TASK_ARGS = "corral.task_args"
_EXECUTOR = "corral.executor"


class CoreOption(click.Option):
    """A core option, shown in a section of `corral --help`."""

    def __init__(self, *args: Any, section: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.section = section


class CorralfileError(Exception):
    """The corralfile raised while it was imported; the message points at the line."""


@dataclass(frozen=True)
class Loaded:
    """The collection the command line runs, and the file it came from."""

    collection: Collection
    path: Path


# ---------------------------------------------------------------------- core options


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(f"corral {__version__}")
        ctx.exit(0)


def _print_completion(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(completion_script(value), nl=False)
        ctx.exit(0)


def _parse_sets(ctx: click.Context, param: click.Parameter, value: Sequence[str]) -> Any:
    try:
        return parse_set(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def _count_option(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    text = value.strip()
    if text.endswith("%"):
        try:
            percent = float(text[:-1])
        except ValueError:
            percent = -1
        if 0 <= percent <= 100:
            return text
    elif text.isdigit():
        return int(text)
    raise click.BadParameter(f"{value!r}: expected a count (10) or a percentage (10%)", ctx, param)


def group_limits(params: dict[str, Any]) -> dict[str, Any] | None:
    """Return the group engine's limits the options ask for, or None to run host by host."""
    rolling = params["batch_size"] is not None
    wanted = (
        params["parallel"]
        or rolling
        or params["fail_fast"]
        or params["max_failures"] is not None
        or params["concurrency"] is not None
        or params["host_timeout"] is not None
    )
    if not wanted:
        return None
    limits: dict[str, Any] = {
        "concurrency": params["concurrency"] or (64 if params["parallel"] or rolling else 1)
    }
    for key in ("batch_size", "max_failures", "host_timeout", "connect_retries"):
        if params[key] is not None:
            limits[key] = params[key]
    if params["fail_fast"]:
        limits["fail_fast"] = True
    return limits


def core_params() -> list[click.Parameter]:
    """Return the options that come before the first task."""
    hosts, running, many, config, tasks, other = SECTIONS

    def option(*decls: str, section: str, **kwargs: Any) -> click.Parameter:
        return CoreOption(list(decls), section=section, **kwargs)

    return [
        option("-H", "--hosts", section=hosts, multiple=True, metavar="HOST[,HOST...]",
               shell_complete=complete_hosts,
               help="Run on these hosts, in order (comma list, or repeat the option)."),
        option("-i", "--identity", section=hosts, multiple=True, metavar="KEYFILE",
               help="Private key file for SSH authentication (repeatable)."),
        option("-S", "--ssh-config", section=hosts, metavar="FILE",
               type=click.Path(exists=True, dir_okay=False),
               help="Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config."),
        option("-t", "--connect-timeout", section=hosts,
               type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
               help="Give up connecting to a host after this long."),
        option("-A", "--forward-agent", section=hosts, is_flag=True, default=False,
               help="Forward the local SSH agent to the hosts."),
        option("--prompt-for-login-password", section=hosts, is_flag=True, default=False,
               help="Ask for the SSH login password once, before running."),
        option("--prompt-for-passphrase", section=hosts, is_flag=True, default=False,
               help="Ask for the private key passphrase once, before running."),
        option("-T", "--command-timeout", section=running,
               type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
               help="Stop any command that runs longer than this."),
        option("-e", "--echo", section=running, is_flag=True, default=False,
               help="Print each command before running it."),
        option("-w", "--warn-only", section=running, is_flag=True, default=False,
               help="Go on when a command fails, instead of stopping."),
        option("--hide", section=running, type=click.Choice(list(HIDE_CHOICES)),
               help="Hide the commands' output: out, err, both or none."),
        option("--dry", section=running, is_flag=True, default=False,
               help="Print the commands that would run; run nothing."),
        option("--prompt-for-sudo-password", section=running, is_flag=True, default=False,
               help="Ask for the sudo password once, before running."),
        option("-P", "--parallel", section=many, is_flag=True, default=False,
               help="Run each task on all hosts at once (output prefixed with [host])."),
        option("--concurrency", section=many, type=click.IntRange(min=1), metavar="K",
               help="At most K hosts at a time (default 64 with -P or --batch-size, else 1)."),
        option("--batch-size", section=many, metavar="N|P%", callback=_count_option,
               help="Run hosts in waves of N (or P% of them); implies running in parallel."),
        option("--max-failures", section=many, metavar="F|P%", callback=_count_option,
               help="Start no more hosts once more than F (or P%) have failed."),
        option("--fail-fast", section=many, is_flag=True, default=False,
               help="Start no more hosts after the first failure (--max-failures 0)."),
        option("--host-timeout", section=many, type=click.FloatRange(min=0, min_open=True),
               metavar="SECONDS", help="Stop a host whose share of a task takes longer."),
        option("--connect-retries", section=many, type=click.IntRange(min=0), metavar="N",
               help="Retry transient connect errors N times (default 3)."),
        option("--output", section=many, type=click.Choice(["text", "json"]), default="text",
               show_default=True,
               help="End-of-run report: text for people, json (one object per host) for CI."),
        option("-f", "--config", section=config, metavar="FILE",
               type=click.Path(dir_okay=False, path_type=Path),
               help="Load this config file (YAML, JSON or Python) over the others."),
        option("--set", "sets", section=config, multiple=True, metavar="KEY=VALUE",
               callback=_parse_sets,
               help="Set a config value (dotted key, YAML value): --set deploy.replicas=3."),
        option("-c", "--collection", section=tasks, metavar="NAME",
               help="Load tasks from NAME.py (or a path) instead of corralfile.py."),
        option("-r", "--search-root", section=tasks, metavar="DIR",
               type=click.Path(exists=True, file_okay=False),
               help="Search for the corralfile from DIR instead of the current directory."),
        option("-l", "--list", "list_namespace", section=tasks, is_flag=False, flag_value="",
               default=None, metavar="[NAMESPACE]",
               help="List the tasks (of NAMESPACE, if given) and exit."),
        option("--list-format", section=tasks, type=click.Choice(["flat", "nested", "json"]),
               default="flat", show_default=True, help="Format of --list."),
        option("-h", "--help", "help_task", section=tasks, is_flag=False, flag_value="",
               default=None, metavar="[TASK]", help="Show this help, or a task's, and exit."),
        option("-d", "--debug", section=other, is_flag=True, default=False,
               help="Log debug output; show tracebacks."),
        option("-V", "--version", section=other, is_flag=True, expose_value=False,
               is_eager=True, callback=_print_version, help="Show the version and exit."),
        option("--print-completion-script", section=other, type=click.Choice(SHELLS),
               expose_value=False, is_eager=True, callback=_print_completion,
               help="Print the script that enables shell completion, and exit."),
        option("--demo", section=other, is_flag=True, default=False,
               help="Start a throwaway local SSH fleet, show what corral does, stop it."),
        option("--demo-hosts", section=other, type=click.IntRange(1, 50), default=3,
               show_default=True, help="How many hosts the demo fleet has."),
        option("--demo-embedded", section=other, is_flag=True, default=False,
               help="Use corral's embedded SSH server for the demo even where sshd could run."),
    ]  # fmt: skip


# ---------------------------------------------------------------------- the command


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
        if "--" in args:  # everything after -- is an ad-hoc command
            index = args.index("--")
            ctx.meta[_REMAINDER] = args[index + 1 :]
            args = args[:index]
        rest = super().parse_args(ctx, args)
        protected = getattr(ctx, "_protected_args", None)
        if protected is None:  # click < 8.2
            protected = getattr(ctx, "protected_args", [])
        ctx.meta[_TASK_ARGS] = [*protected, *ctx.args]
        return rest

    def _loaded(self, ctx: click.Context) -> Loaded | BaseException:
        """Return the corralfile's collection, or why it could not be loaded (once per run)."""
        root = ctx.find_root()
        if _LOADED not in root.meta:
            root.meta[_LOADED] = _load_collection(root.params)
        loaded: Loaded | BaseException = root.meta[_LOADED]
        return loaded

    def _load(self, ctx: click.Context, *, required: bool = True) -> Loaded | None:
        """Return the corralfile's collection; without one, raise (or, not required, None)."""
        loaded = self._loaded(ctx)
        if isinstance(loaded, BaseException):
            if required and not ctx.resilient_parsing:
                raise loaded
            return None
        assert isinstance(loaded, Loaded)
        return loaded

    def list_commands(self, ctx: click.Context) -> list[str]:
        loaded = self._load(ctx, required=False)
        return sorted(loaded.collection.task_names()) if loaded else []

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        loaded = self._load(ctx, required=False)
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
            loaded = self._load(ctx)  # no corralfile: that is the error to report
            assert loaded is not None
            raise click.UsageError(
                f"{loaded.collection.no_such_task(name)} (corral --list shows the tasks)", ctx
            )
        return command.name, command, args[1:]

    def _parse_calls(self, ctx: click.Context) -> list[Call]:
        """Parse each task and its options from what follows the core options."""
        args = list(ctx.meta.get(_TASK_ARGS, []))
        calls = []
        while args:
            name, command, args = self.resolve_command(ctx, args)
            assert isinstance(command, TaskCommand) and name is not None
            mine, args = command.split_args(
                args, lambda word: self.get_command(ctx, word) is not None
            )
            sub = command.make_context(name, mine, parent=ctx)
            calls.append(Call(command.task, (), command.call_kwargs(sub), called_as=name))
        return calls

    # ------------------------------------------------------------------ help

    def collect_usage_pieces(self, ctx: click.Context) -> list[str]:
        return ["[CORE OPTIONS]", self.subcommand_metavar]

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        params = [p for p in self.get_params(ctx) if isinstance(p, CoreOption)]
        for section in SECTIONS:
            rows = [
                record
                for p in params
                if p.section == section and (record := p.get_help_record(ctx)) is not None
            ]
            if rows:
                with formatter.section(section):
                    formatter.write_dl(rows)
        self.format_commands(ctx, formatter)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        loaded = self._loaded(ctx)
        if isinstance(loaded, Loaded):
            with formatter.section(f"Tasks ({loaded.path})"):
                rows = flat_rows(loaded.collection)
                if rows:
                    formatter.write_dl(rows)
                else:
                    formatter.write_text("(none)")
        else:
            with formatter.section("Tasks"):
                formatter.write_text(str(loaded))

    def _show_help(self, ctx: click.Context, name: str) -> int:
        if not name:
            click.echo(self.get_help(ctx))
            return 0
        command = self.get_command(ctx, name)
        if command is None:
            self.resolve_command(ctx, [name])  # raises the right error
        assert command is not None
        sub = click.Context(command, info_name=command.name, parent=ctx)
        click.echo(command.get_help(sub))
        return 0

    def _show_list(self, ctx: click.Context, namespace: str, fmt: ListFormat) -> int:
        loaded = self._load(ctx)
        assert loaded is not None
        collection = loaded.collection
        for part in namespace.split(".") if namespace else []:
            if part not in collection.collections:
                raise click.UsageError(f"no collection named {namespace!r}", ctx)
            collection = collection.collections[part]
        source = str(loaded.path) if fmt != "json" else None
        click.echo(render_list(collection, fmt, source))
        return 0

    # ------------------------------------------------------------------ running

    def invoke(self, ctx: click.Context) -> Any:
        params = ctx.params
        debug = bool(params.get("debug"))
        if debug:
            logging.basicConfig(format="%(name)s: %(message)s")
            logging.getLogger("corral").setLevel(logging.DEBUG)
            logging.getLogger("asyncssh").setLevel(logging.INFO)
        try:
            return self._run(ctx)
        except CorralfileError as exc:
            if debug and exc.__cause__ is not None:
                traceback.print_exception(exc.__cause__)
            click.echo(f"corral: {exc}", err=True)
            return 1
        except CorralError as exc:
            if debug:
                traceback.print_exc()
            click.echo(f"corral: {describe(exc)}", err=True)
            return exit_status(exc)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:  # a task's own bug: its traceback is what the user needs
            traceback.print_exc()
            executor = ctx.meta.get(_EXECUTOR)
            where = ""
            if isinstance(executor, Executor) and executor.current is not None:
                call, host = executor.current
                where = f"task {call.name}" + (f" on {host}" if host else "") + ": "
            click.echo(f"corral: {where}{describe(exc)}", err=True)
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
        calls = self._parse_calls(ctx)
        remainder: list[str] | None = ctx.meta.get(_REMAINDER)
        if remainder is not None and not remainder:
            raise click.UsageError("nothing after --; give a command: corral -H HOST -- uname -a")
        loaded = self._load(ctx, required=bool(calls))
        if not calls and remainder is None:
            if loaded is not None and loaded.collection.default is not None:
                calls = [Call(loaded.collection[""], called_as=loaded.collection.default)]
            else:
                click.echo(self.get_help(ctx))
                return USAGE_STATUS
        config = _config(params, loaded)
        hosts = [h.strip() for value in params["hosts"] for h in value.split(",") if h.strip()]
        if remainder:
            calls.append(remainder_call(" ".join(remainder)))
        collection = loaded.collection if loaded is not None else Collection()
        limits = group_limits(params)
        if limits is not None and params["output"] == "json":
            config.merge({"run": {"hide": True}})  # stdout carries the JSON lines only
        with Executor(collection, config, hosts, group=limits) as executor:
            ctx.meta[_EXECUTOR] = executor
            return run_with_reports(executor, calls, params["output"])

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
            status = super().main(
                args,
                prog_name or "corral",
                complete_var or COMPLETE_VAR,
                standalone_mode=False,
                **extra,
            )
        except click.UsageError as exc:
            click.echo(f"corral: {_usage_message(exc)}", err=True)
            status = USAGE_STATUS
        except click.ClickException as exc:
            click.echo(f"corral: {exc.format_message()}", err=True)
            status = exc.exit_code
        except click.Abort:
            click.echo("corral: interrupted", err=True)
            status = INTERRUPTED_STATUS
        status = status if isinstance(status, int) else 0
        if standalone_mode:
            sys.exit(status)
        return status


def _usage_message(exc: click.UsageError) -> str:
    """Return a usage error as one line, with where to look for help."""
    message = " ".join(exc.format_message().split())
    command = exc.ctx.command if exc.ctx is not None else None
    if isinstance(command, TaskCommand):
        return f"{command.name}: {message} (see corral --help {command.name})"
    if "corral --" in message:  # it says where to look already
        return message
    return f"{message} (see corral --help)"


def _load_collection(params: dict[str, Any]) -> Loaded | BaseException:
    """Find and import the corralfile; an error is returned, to be raised where it matters."""
    start = Path(params.get("search_root") or os.getcwd())
    try:
        path = find_collection(start, params.get("collection"))
    except CollectionNotFound as exc:
        return exc
    try:
        return Loaded(load_collection(path), path)
    except Exception as exc:
        error = CorralfileError(_where_it_failed(exc, path))
        error.__cause__ = exc
        return error


def _where_it_failed(exc: BaseException, path: Path) -> str:
    """Return "FILE, line N: Error: message" for an exception raised by a corralfile."""
    filename, line = str(path), None
    if isinstance(exc, SyntaxError) and exc.filename:
        filename, line = exc.filename, exc.lineno
    else:
        directory = str(path.parent if path.is_file() else path)
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename.startswith(directory):
                filename, line = frame.filename, frame.lineno
                break
    at = f"{filename}, line {line}" if line else filename
    text = str(exc.msg if isinstance(exc, SyntaxError) else exc)
    return f"error loading {at}: {type(exc).__name__}: {text} (--debug shows the traceback)"


def _config(params: dict[str, Any], loaded: Loaded | None) -> Config:
    """Build the Config from every level, the command line's flags and --set on top."""
    flags: dict[str, Any] = {}

    def put(dotted: str, value: Any) -> None:
        node: Any = value
        for part in reversed(dotted.split(".")):
            node = {part: node}
        merge_dicts(flags, node)

    if params["echo"]:
        put("run.echo", True)
    if params["warn_only"]:
        put("run.warn", True)
    if params["hide"] is not None:
        put("run.hide", HIDE_CHOICES[params["hide"]])
    if params["dry"]:
        put("run.dry", True)
    if params["connect_timeout"] is not None:
        put("timeouts.connect", params["connect_timeout"])
    if params["command_timeout"] is not None:
        put("timeouts.command", params["command_timeout"])
    if params["forward_agent"]:
        put("forward_agent", True)
    if params["identity"]:
        put("connect_kwargs.key_filename", list(params["identity"]))
    if params["ssh_config"]:
        put("ssh_config_path", str(params["ssh_config"]))
    config = load_config(
        collection=loaded.collection.configuration() if loaded is not None else None,
        project_dir=project_directory(loaded.path) if loaded is not None else None,
        runtime_file=params["config"],
        overrides=flags,
        sets=params["sets"],
    )
    prompts: list[tuple[str, str, str]] = [
        ("prompt_for_login_password", "connect_kwargs.password", "SSH login password: "),
        ("prompt_for_passphrase", "connect_kwargs.passphrase", "SSH key passphrase: "),
        ("prompt_for_sudo_password", "sudo.password", "sudo password: "),
    ]
    secrets: dict[str, Any] = {}
    for flag, key, prompt in prompts:
        if params[flag]:  # asked once, here; every host's config copy carries it
            section, _, name = key.partition(".")
            merge_dicts(secrets, {section: {name: Secret(_ask(prompt))}})
    if secrets:
        config.merge(secrets)
    return config


def _ask(prompt: str) -> str:
    return getpass.getpass(prompt)


cli = CorralGroup()


def main(argv: list[str] | None = None) -> int:
    """Run the corral command line and return its exit status."""
    return cli.main(argv, prog_name="corral", standalone_mode=False)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
