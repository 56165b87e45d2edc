"""Shell completion (click's, for bash, zsh and fish): hosts for `-H` from ssh_config aliases.

Task names and task flags complete through the commands themselves.
"""

from __future__ import annotations

import glob
import os
import shlex
from collections.abc import Iterable
from typing import Any

import click
from click.shell_completion import CompletionItem, get_completion_class

COMPLETE_VAR = "_CORRAL_COMPLETE"
SHELLS = ("bash", "zsh", "fish")
DEFAULT_SSH_CONFIGS = ("~/.ssh/config", "/etc/ssh/ssh_config")


def ssh_config_hosts(paths: Iterable[str]) -> list[str]:
    """Return the Host aliases (no wildcards or negations) of ssh_config files, with Includes."""
    hosts: list[str] = []
    seen: set[str] = set()

    def read(path: str, depth: int) -> None:
        path = os.path.expanduser(path)
        if depth > 8 or path in seen or not os.path.isfile(path):
            return
        seen.add(path)
        try:
            with open(path, encoding="utf-8", errors="replace") as file:
                lines = file.read().splitlines()
        except OSError:
            return
        for line in lines:
            words = _words(line)
            if not words:
                continue
            keyword = words[0].lower()
            if keyword == "host":
                hosts.extend(w for w in words[1:] if not any(ch in w for ch in "*?!"))
            elif keyword == "include":
                for pattern in words[1:]:
                    pattern = os.path.expanduser(pattern)
                    if not os.path.isabs(pattern):  # relative to ~/.ssh, as OpenSSH does
                        pattern = os.path.join(os.path.expanduser("~/.ssh"), pattern)
                    for included in sorted(glob.glob(pattern)):
                        read(included, depth + 1)

    for path in paths:
        read(path, 0)
    return list(dict.fromkeys(hosts))


def _words(line: str) -> list[str]:
    line = line.strip()
    if not line or line.startswith("#"):
        return []
    keyword, _, rest = line.replace("=", " ", 1).partition(" ")
    try:
        return [keyword, *shlex.split(rest, comments=True)]
    except ValueError:
        return [keyword, *rest.split()]


def complete_hosts(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[Any]:
    """Complete `-H`: ssh_config aliases, after any comma-separated hosts already typed."""
    config = ctx.params.get("ssh_config")
    paths = [str(config)] if config else list(DEFAULT_SSH_CONFIGS)
    done, comma, current = incomplete.rpartition(",")
    head = done + comma
    typed = set(done.split(",")) if done else set()
    return [
        CompletionItem(head + host)
        for host in ssh_config_hosts(paths)
        if host.startswith(current) and host not in typed
    ]


def completion_script(command: click.Command, shell: str) -> str:
    """Return the script that enables completion of `command` (the root) in a shell."""
    completion_class = get_completion_class(shell)
    if completion_class is None:
        raise click.BadParameter(f"no completion for {shell!r}; choose from {', '.join(SHELLS)}")
    return completion_class(command, {}, "corral", COMPLETE_VAR).source()
