"""Shaping the shell text of a command: argv quoting, `cd`, `prefix` and inline env."""

from __future__ import annotations

import re
import secrets
import shlex
from collections.abc import Mapping, Sequence

from ..errors import ConfigError

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

Command = str | Sequence[str]


def command_text(command: Command) -> str:
    """Return shell text: a string as given, an argv list with every word quoted."""
    if isinstance(command, str):
        if not command.strip():
            raise ConfigError("command is empty")
        return command
    words = list(command)
    if not words or not all(isinstance(word, str) for word in words):
        raise ConfigError(f"command must be a string or a non-empty list of strings: {command!r}")
    return shlex.join(words)


def quote_path(path: str) -> str:
    """Quote a path for the shell, keeping a leading `~` or `~/` expandable."""
    if path == "~":
        return "~"
    if path.startswith("~/"):
        rest = path[2:]
        return "~/" + shlex.quote(rest) if rest else "~/"
    return shlex.quote(path)


def check_env(env: Mapping[str, str]) -> None:
    """Reject environment variable names the shell cannot export."""
    for name in env:
        if not _ENV_NAME.match(name):
            raise ConfigError(f"env name {name!r} is not a valid shell variable name")


def env_prefix(env: Mapping[str, str]) -> str:
    """Return `export K='v' ... && ` for inline env, values quoted (empty for no env)."""
    if not env:
        return ""
    check_env(env)
    pairs = " ".join(f"{name}={shlex.quote(value)}" for name, value in env.items())
    return f"export {pairs} && "


def wrap(command: str, *, cwd: str | None = None, prefixes: Sequence[str] = ()) -> str:
    """Apply a working directory and prefix commands: `cd D && p1 && p2 && command`."""
    parts = []
    if cwd is not None:
        parts.append(f"cd {quote_path(cwd)}")
    parts.extend(prefixes)
    parts.append(command)
    return " && ".join(parts)


def join_cwd(stack: Sequence[str]) -> str | None:
    """Combine nested `cd()` paths: an absolute (or `~`) path resets, a relative one appends."""
    cwd: str | None = None
    for path in stack:
        if cwd is None or path.startswith(("/", "~")):
            cwd = path
        else:
            cwd = cwd.rstrip("/") + "/" + path
    return cwd


#: Variable exported into every remote command, naming the run, so that its processes can
#: be found and stopped even when sshd refuses signal requests (root logins, old servers).
RUN_ID_VAR = "CORRAL_RUN_ID"


def new_run_id() -> str:
    """Return a fresh marker value for one remote command."""
    return secrets.token_hex(8)


def kill_script(run_id: str, signal: str) -> str:
    """Return shell text that signals every process group carrying `RUN_ID_VAR=run_id`.

    The marker is matched in each process's environment and command line; it is split in
    the script's own text so the script never matches itself.
    """
    if not re.fullmatch(r"[A-Za-z0-9]+", run_id) or not re.fullmatch(r"[A-Z0-9]+", signal):
        raise ValueError(f"bad run id or signal: {run_id!r} {signal!r}")
    return (
        f"m='{RUN_ID_VAR}'={run_id}; for d in /proc/[0-9]*; do p=${{d#/proc/}}; "
        '[ "$p" = "$$" ] && continue; '
        'if grep -qsF "$m" "$d/environ" "$d/cmdline"; then '
        'g=$(ps -o pgid= -p "$p" | tr -d " "); '
        f'kill -{signal} -- "-$g" 2>/dev/null || kill -{signal} "$p" 2>/dev/null; '
        "fi; done; true"
    )
