"""The hosts a command line selects: `-H` names, or `-G PATTERN` (and `--limit`) from the
inventory (`-I FILE`, else the project's), or `--rerun-failed [RUN]`; `@failed` and
`@failed:RUN` (a run's failed and never reached hosts, from the journal) in any of them.

Every name is checked here, before anything connects: an unknown host or group, or a
selection with no host, is a SelectionError (exit 2) with the closest names.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import Config
from ..errors import JournalError, UsageError
from ..inventory import needs_facts
from ..journal.commands import FAILED_SELECTOR, journal_for_reading
from ..journal.records import RunDetail
from ..remote.connection import Connection as AsyncConnection
from ..sync.inventory import plan_hosts
from ..tasks.loader import project_directory
from .loading import Loaded
from .options import host_list

#: A run as `--rerun-failed` and `@failed:` name it: `latest`, an id, a prefix of one
#: (20261201T2055...), or its random suffix (3f2a9c).
_RUN = r"(?:latest|last|\d{8}(?:T\d{0,6}Z?)?(?:-[0-9a-f]{0,6})?|[0-9a-f]{6})"
RUN_REF = re.compile(f"^{_RUN}$")
#: `@failed` or `@failed:RUN` as a term of a host pattern (after start, `,`, `:`, `&`, `!`);
#: in `@failed:web` the `web` is the next term, not a run.
_RERUN = "--rerun-failed"
_FAILED_TERM = re.compile(rf"(?<![^,:&!\s])@failed(?::(?P<run>{_RUN}))?(?=$|[,:\s])")


@dataclass
class Selection:
    """The hosts a run goes to, and how the command line named them."""

    #: Host names, in order.
    hosts: list[str]
    #: The selection as given, for the journal: "-H web1,web2", "-G 'web:&prod'", ...
    text: str
    #: Connections made from the inventory (with host vars), by name; -H names get theirs
    #: from the executor.
    connections: dict[str, AsyncConnection] = field(default_factory=dict)
    #: The run whose failed hosts these are (--rerun-failed), and what it ran.
    rerun: RunDetail | None = None


def is_run_ref(word: str) -> bool:
    """True when `word` names a run (`latest`, an id, a prefix or suffix of one)."""
    return bool(RUN_REF.match(word))


def _journal_hosts(config: Config, ref: str | None) -> tuple[str, list[str]]:
    """Return (run id, the failed and never reached hosts of run `ref`)."""
    journal = journal_for_reading(config)
    try:
        return journal.failed_hosts(ref)
    finally:
        journal.close()


def rerun_failed_value(args: list[str]) -> list[str]:
    """Give `--rerun-failed` its optional RUN: the next word when it names a run, else the
    latest run (so `corral --rerun-failed deploy` reruns the task deploy)."""
    out: list[str] = []
    index = 0
    while index < len(args):
        word = args[index]
        index += 1
        if word != _RERUN:
            out.append(word)
            continue
        following = args[index] if index < len(args) else None
        if following is not None and is_run_ref(following):
            out.append(f"{_RERUN}={following}")
            index += 1
        else:
            out.append(f"{_RERUN}=latest")
    return out


def expand_failed(names: Sequence[str], config: Config) -> list[str]:
    """Replace `@failed` / `@failed:RUN` in a host list by those runs' failed and never
    reached hosts; keep the other names, in order, each once."""
    if not any(FAILED_SELECTOR.match(name.strip()) for name in names):
        return list(dict.fromkeys(names))
    expanded: list[str] = []
    for name in names:
        match = FAILED_SELECTOR.match(name.strip())
        if match is None:
            expanded.append(name)
            continue
        run_id, found = _journal_hosts(config, match.group("run"))
        if not found:
            raise JournalError(f"{name}: run {run_id} has no failed or unreached host")
        expanded += found
    return list(dict.fromkeys(expanded))


def failed_lists(pattern: str, config: Config) -> tuple[str, dict[str, list[str]]]:
    """Return the pattern with each `@failed[:RUN]` term made `@failed[-RUN]` (a colon would
    split the term), and those lists of hosts by name, for the selector's `host_lists`."""
    lists: dict[str, list[str]] = {}

    def replace(match: re.Match[str]) -> str:
        ref = match.group("run")
        key = "failed" if ref is None else f"failed-{ref}"
        if key not in lists:
            run_id, found = _journal_hosts(config, ref)
            if not found:
                raise JournalError(f"@{key}: run {run_id} has no failed or unreached host")
            lists[key] = found
        return f"@{key}"

    return _FAILED_TERM.sub(replace, pattern), lists


def _run_detail(config: Config, ref: str) -> RunDetail:
    journal = journal_for_reading(config)
    try:
        return journal.run(ref)
    finally:
        journal.close()


def select(
    params: dict[str, Any],
    config: Config,
    loaded: Loaded | None,
    *,
    list_only: bool = False,
) -> Selection | None:
    """Return the hosts the command line selects (None: it names none; tasks use their own).

    `list_only` (--list-hosts) connects nowhere: a pattern on facts is refused.
    """
    names: tuple[str, ...] = params.get("hosts") or ()
    pattern: str | None = params.get("group")
    limit: str | None = params.get("limit")
    rerun: str | None = params.get("rerun_failed")
    if rerun is not None and (names or pattern or limit):
        raise UsageError(
            "--rerun-failed picks the hosts itself (a run's failed and unreached ones): leave "
            "out -H, -G and --limit, or select them with @failed:RUN"
        )
    if names and (pattern or limit):
        raise UsageError(
            "give hosts by name (-H) or by pattern from the inventory (-G, --limit), not both"
        )
    if rerun is not None:
        return _rerun(params, config, loaded, rerun, list_only)
    if names:
        hosts = expand_failed(host_list(names), config)
        return Selection(hosts, "-H " + ",".join(host_list(names)))
    if pattern is None and limit is None and not list_only:
        return None
    return _from_inventory(params, config, loaded, pattern or "all", limit, list_only)


def _from_inventory(
    params: dict[str, Any],
    config: Config,
    loaded: Loaded | None,
    pattern: str,
    limit: str | None,
    list_only: bool,
    *,
    text: str | None = None,
    host_lists: dict[str, list[str]] | None = None,
) -> Selection:
    lists = dict(host_lists or {})
    pattern, found = failed_lists(pattern, config)
    lists.update(found)
    if limit is not None:
        limit, found = failed_lists(limit, config)
        lists.update(found)
    if list_only and (needs_facts(pattern) or (limit is not None and needs_facts(limit))):
        raise UsageError(
            f"--list-hosts connects nowhere, and {pattern!r} matches on facts, which must be "
            "gathered from the hosts: run without --list-hosts, or see them with "
            f"corral facts -G {shlex.quote(pattern)}"
        )
    plan = plan_hosts(
        pattern,
        limit,
        sources=list(params.get("inventory") or ()),
        config=config,
        project_dir=project_directory(loaded.path)
        if loaded is not None and loaded.path is not None
        else None,
        hooks=loaded.collection.inventory_hooks if loaded is not None else (),
        gather_facts=not list_only,
        host_lists=lists,
    )
    if text is None:
        text = f"-G {shlex.quote(params.get('group') or 'all')}"
        if limit is not None:
            text += f" --limit {shlex.quote(params['limit'])}"
    connections = {} if list_only else plan.connections(config)
    return Selection(plan.names, text, connections)


def _rerun(
    params: dict[str, Any], config: Config, loaded: Loaded | None, ref: str, list_only: bool
) -> Selection:
    """The hosts of `--rerun-failed RUN`: the run's failed and never reached ones, from the
    inventory again when the run selected from it (so their vars apply), else by name."""
    run = _run_detail(config, ref)
    run_id, hosts = _journal_hosts(config, run.run_id)
    if not hosts:
        raise JournalError(f"run {run_id} has no failed or unreached host: nothing to rerun")
    text = f"--rerun-failed {run_id}"
    if run.selection.startswith("-G "):
        key = f"failed-{run_id}"
        selection = _from_inventory(
            params, config, loaded, f"@{key}", None, list_only, text=text,
            host_lists={key: hosts},
        )  # fmt: skip
    else:
        selection = Selection(hosts, text)
    selection.rerun = run
    return selection
