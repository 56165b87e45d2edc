"""How the command line describes its run to the record (argv with secrets masked, the
settings worth seeing later), what `--rerun-failed` replays from it, and `--list-hosts`."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import click

from ..config import Config
from ..config.defaults import SECRET_KEYS
from ..errors import UsageError
from ..events import MASK
from ..journal.records import RunDetail
from ..tasks.collection import Collection
from ..tasks.executor import Executor
from ..tasks.task import Call
from .loading import Loaded
from .selection import Selection
from .task_command import parse_calls

#: Keys whose --set value is kept out of the record, besides corral's secret keys.
_SECRET_WORD = re.compile(r"pass|secret|token|credential|private|api_?key", re.IGNORECASE)


def _is_secret_key(key: str) -> bool:
    return key in SECRET_KEYS or key.startswith("run.env.") or bool(_SECRET_WORD.search(key))


def mask_argv(argv: Sequence[str]) -> list[str]:
    """Return a command line with the values of secret settings masked: `--set
    sudo.password=...`, any `--set run.env.NAME=...`, and keys that look like secrets."""
    masked: list[str] = []
    expect_set = False
    for word in argv:
        if expect_set:
            key, equals, _ = word.partition("=")
            masked.append(f"{key}={MASK}" if equals and _is_secret_key(key.strip()) else word)
            expect_set = False
        elif word == "--set":
            masked.append(word)
            expect_set = True
        elif word.startswith("--set="):
            key, equals, _ = word[len("--set=") :].partition("=")
            secret = equals and _is_secret_key(key.strip())
            masked.append(f"--set={key}={MASK}" if secret else word)
        else:
            masked.append(word)
    return masked


def run_settings(
    params: Mapping[str, Any],
    limits: Mapping[str, Any] | None,
    task_words: Sequence[str],
    selection: Selection | None,
) -> dict[str, Any]:
    """Return the settings of a run worth seeing later, and what --rerun-failed replays."""
    settings: dict[str, Any] = {
        "parallel": limits is not None,
        "limits": dict(limits) if limits is not None else None,
        "dry": bool(params.get("dry")),
        "output": params.get("output"),
        "task_words": mask_argv(task_words),
    }
    if params.get("inventory"):
        settings["inventory"] = list(params["inventory"])
    if selection is not None and selection.rerun is not None:
        settings["rerun_of"] = selection.rerun.run_id
    return settings


def rerun_calls(
    group: click.Group, ctx: click.Context, run: RunDetail
) -> tuple[list[Call], list[str] | None]:
    """Return what `--rerun-failed RUN` runs when the command line names nothing: the run's
    own tasks (with their arguments) or its ad-hoc command."""
    if run.command:
        if MASK in run.command:
            raise UsageError(
                f"run {run.run_id}'s command held a secret (recorded masked): give the command "
                "again after --"
            )
        return [], [run.command]
    words = [str(word) for word in run.config.get("task_words") or []]
    if not words:
        raise UsageError(
            f"run {run.run_id} recorded no tasks or command to run again: give them "
            "(corral --rerun-failed RUN deploy, or ... -- COMMAND)"
        )
    if any(MASK in word for word in words):
        raise UsageError(
            f"run {run.run_id}'s task arguments held a secret (recorded masked): give the "
            "tasks again (corral --rerun-failed RUN TASK ...)"
        )
    return parse_calls(group, ctx, words), None


def list_hosts(
    selection: Selection | None,
    calls: Sequence[Call],
    loaded: Loaded | None,
    config: Config,
    output: str,
) -> int:
    """Print the hosts a command line would run on (--list-hosts): the selection's, else the
    tasks' own; connect nowhere."""
    if selection is not None:
        names = list(selection.hosts)
    else:
        collection = loaded.collection if loaded is not None else Collection()
        with Executor(collection, config) as executor:  # it connects nowhere: hosts only
            planned = [
                executor.label(host)
                for call in executor.plan(*calls)
                for host in executor.hosts_for(call)
                if host is not None
            ]
        names = list(dict.fromkeys(planned))
    if output in ("json", "jsonl"):
        click.echo(json.dumps(names))
    else:
        click.echo("\n".join([f"  hosts ({len(names)}):", *(f"    {name}" for name in names)]))
    return 0
