"""The core options of `corral` (those before the first task), in help sections.

Also what they mean together: the hosts `-H` names (`host_list`), where a command after
`--` runs (`check_where_it_runs`) and the group engine's limits (`group_limits`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from .. import __version__
from ..config import parse_set
from ..config.schema import HOST_KEY_POLICIES
from ..errors import ConfigError, UsageError
from .completion import SHELLS, complete_hosts, completion_script

SECTIONS = (
    "Hosts and connections",
    "Inventory and selection",
    "Running commands",
    "Many hosts",
    "Output and history",
    "Configuration",
    "Corralfile and help",
    "Program options",
    "Other",
)
HIDE_CHOICES = {"out": "out", "err": "err", "both": "both", "none": False}


class CoreOption(click.Option):
    """A core option, shown in a section of `corral --help`."""

    def __init__(self, *args: Any, section: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.section = section


def write_sections(ctx: click.Context, formatter: click.HelpFormatter) -> None:
    """Write `corral --help`'s core options, section by section."""
    params = [p for p in ctx.command.get_params(ctx) if isinstance(p, CoreOption)]
    for section in SECTIONS:
        rows = [
            record
            for p in params
            if p.section == section and (record := p.get_help_record(ctx)) is not None
        ]
        if rows:
            with formatter.section(section):
                formatter.write_dl(rows)


def host_list(values: Sequence[str]) -> list[str]:
    """Return the hosts of every `-H` value, in order; a value that names none is refused.

    `-H ""`, `-H ","` or `-H " , "` (an unset variable, a blank inventory) must never mean
    "no hosts", which would run the command on this machine.
    """
    hosts: list[str] = []
    for value in values:
        named = [host.strip() for host in value.split(",") if host.strip()]
        if not named:
            raise UsageError(
                f"-H {value!r} names no host; give one or more (-H web1,web2), "
                "or --local to run a command after -- on this machine"
            )
        hosts += named
    return hosts


def check_where_it_runs(hosts: bool, remainder: list[str] | None, *, local: bool) -> None:
    """Refuse a command after -- with nowhere explicit to run: never here by surprise.

    `hosts`: the command line selects hosts (-H names, a -G pattern, --rerun-failed).
    """
    if local and hosts:
        raise UsageError(
            "--local runs the command after -- on this machine, -H (or -G) on hosts: "
            "give one of them"
        )
    if local and remainder is None:
        raise UsageError(
            "--local runs a command given after --: corral --local -- make test "
            "(tasks run where their hosts say)"
        )
    if remainder and not hosts and not local:
        raise UsageError(
            "a command after -- needs hosts: give -H HOST[,HOST...] or -G PATTERN, "
            "or --local to run it on this machine"
        )


def _print_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        program = getattr(ctx.find_root().command, "program", None)
        if program is not None:
            program.print_version()
        else:
            click.echo(f"corral {__version__}")
        ctx.exit(0)


def _print_completion(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
    if value and not ctx.resilient_parsing:
        click.echo(completion_script(ctx.find_root().command, value), nl=False)
        ctx.exit(0)


def _parse_sets(ctx: click.Context, param: click.Parameter, value: Sequence[str]) -> Any:
    try:
        return parse_set(value)
    except ConfigError as exc:
        raise click.BadParameter(str(exc), ctx, param) from exc


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
    hosts, inventory, running, many, output, config, tasks, _, other = SECTIONS

    def option(*decls: str, section: str, **kwargs: Any) -> click.Parameter:
        return CoreOption(list(decls), section=section, **kwargs)

    return [
        option("-H", "--hosts", section=hosts, multiple=True, metavar="HOST[,HOST...]",
               shell_complete=complete_hosts,
               help="Run on these hosts, in order (comma list, or repeat the option)."),
        option("-I", "--inventory", section=inventory, multiple=True, metavar="FILE",
               help="Inventory source (repeatable): corral YAML, Ansible INI/YAML, a script, "
                    "@ssh_config (default: inventory.yaml next to the corralfile)."),
        option("-G", "--group", section=inventory, metavar="PATTERN",
               help="Run on the inventory hosts PATTERN selects: web:&prod:!web03, role=web, "
                    "os.family=debian, @failed."),
        option("--limit", section=inventory, metavar="PATTERN",
               help="Narrow the selection further (a second pattern)."),
        option("--list-hosts", section=inventory, is_flag=True, default=False,
               help="Print the hosts the selection resolves to, connect nowhere, and exit."),
        option("-i", "--identity", section=hosts, multiple=True, metavar="KEYFILE",
               help="Private key file for SSH authentication (repeatable)."),
        option("-S", "--ssh-config", section=hosts, metavar="FILE",
               type=click.Path(exists=True, dir_okay=False),
               help="Read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config."),
        option("-t", "--connect-timeout", section=hosts,
               type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
               help="Give up connecting to a host after this long."),
        option("--local", section=hosts, is_flag=True, default=False,
               help="Run the command after -- on this machine (without it, -- needs -H)."),
        option("-A", "--forward-agent", section=hosts, is_flag=True, default=False,
               help="Forward the local SSH agent to the hosts."),
        option("--persistent-session", section=hosts, is_flag=True, default=False,
               help="Run each host's commands in one long-lived shell, not a channel each."),
        option("--broker", section=hosts, is_flag=True, default=False,
               help="Run through your broker, which keeps SSH connections open between "
                    "invocations (or CORRAL_BROKER=1; for a command after -- only)."),
        option("--broker-persist", section=hosts, type=click.FloatRange(min=0, min_open=True),
               metavar="SECONDS",
               help="How long the broker keeps an idle connection open (default 60)."),
        option("--prompt-for-login-password", section=hosts, is_flag=True, default=False,
               help="Ask for the SSH login password once, before running."),
        option("--prompt-for-passphrase", section=hosts, is_flag=True, default=False,
               help="Ask for the private key passphrase once, before running."),
        option("--host-key-policy", section=hosts, type=click.Choice(HOST_KEY_POLICIES),
               help="Unknown hosts: refuse (strict, the default), record (accept-new; a "
                    "changed key is still refused) or ignore."),
        option("--list-agent-keys", section=hosts, is_flag=True, default=False,
               help="List the keys in your ssh-agent and exit."),
        option("-T", "--command-timeout", section=running,
               type=click.FloatRange(min=0, min_open=True), metavar="SECONDS",
               help="Stop any command that runs longer than this."),
        option("-e", "--echo", section=running, is_flag=True, default=False,
               help="Print each command before running it."),
        option("-p", "--pty", section=running, is_flag=True, default=False,
               help="Run commands with a pseudo-terminal (config run.pty)."),
        option("-w", "--warn-only", section=running, is_flag=True, default=False,
               help="Go on when a command fails, instead of stopping."),
        option("--hide", section=running, type=click.Choice(list(HIDE_CHOICES)),
               help="Hide the commands' output: out, err, both or none."),
        option("-R", "--dry", section=running, is_flag=True, default=False,
               help="Print the commands that would run; run nothing."),
        option("--check", section=running, is_flag=True, default=False,
               help="Change nothing: operations say what they would do, commands would run."),
        option("--diff", section=running, is_flag=True, default=False,
               help="Show a diff of every file an operation changes (or, with --check, would)."),
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
        option("--executor", section=many, type=click.Choice(["local", "pool", "ray"]),
               help="Where hosts run with -P: in this process (local, the default), in "
                    "--workers processes here (pool), or on a Ray cluster (ray; config "
                    "executor.kind)."),
        option("--workers", section=many, type=click.IntRange(min=1), metavar="N",
               help="Processes of --executor pool (default 2)."),
        option("--ray-address", section=many, metavar="ADDRESS",
               help="The Ray cluster of --executor ray: auto (the default), HOST:PORT or "
                    "ray://HOST:PORT."),
        option("--output", section=output, type=click.Choice(["text", "json", "jsonl"]),
               default="text", show_default=True,
               help="text for people; json: one object per host at the end; jsonl: every "
                    "event as it happens (stdout then holds JSON only)."),
        option("--rerun-failed", section=output, metavar="[RUN]",
               help="Run again on the hosts that failed or were never reached in RUN "
                    "(default: the latest run); its tasks or command unless given."),
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
        option("-F", "--list-format", section=tasks,
               type=click.Choice(["flat", "nested", "json"]), default="flat",
               show_default=True, help="Format of --list."),
        option("-D", "--list-depth", section=tasks, type=click.IntRange(min=1), metavar="N",
               help="List only the first N levels of namespaces."),
        option("--no-dedupe", section=tasks, is_flag=True, default=False,
               help="Run a pre- or post-task each time it is asked for (config tasks.dedupe)."),
        option("--write-pyc", section=tasks, is_flag=True, default=False,
               help="Let Python write .pyc files for the corralfile (it does not by default)."),
        option("--doctor", section=tasks, is_flag=True, default=False,
               help="Read the corralfile or fabfile (without running it), list what it uses "
                    "that corral does differently, and exit."),
        option("--builtin", section=tasks, is_flag=True, default=False,
               help="The first word is a built-in command (history, show, ...) even when a "
                    "task has its name."),
        option("-h", "--help", "help_task", section=tasks, is_flag=False, flag_value="",
               default=None, metavar="[TASK]", help="Show this help, or a task's, and exit."),
        option("-d", "--debug", section=other, is_flag=True, default=False,
               help="Log debug output; show tracebacks."),
        option("-V", "--version", section=other, is_flag=True, expose_value=False,
               is_eager=True, callback=_print_version, help="Show the version and exit."),
        option("--complete", section=other, is_flag=True, default=False,
               help="Print completions for the command line after -- (Invoke's), and exit."),
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
