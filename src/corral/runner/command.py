"""Shaping the shell text of a command: argv quoting, `cd`, `prefix` and inline env."""

from __future__ import annotations

import re
import secrets
import shlex
from collections.abc import Mapping, Sequence

from ..config.secret import MASK, Secret, reveal
from ..errors import ConfigError

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")

Command = str | Sequence[str]


def check_text(text: str, what: str) -> str:
    """Return `text`, refusing a NUL byte: no shell command, path or variable can hold one
    (sshd would drop the whole connection over it)."""
    if "\0" in text:
        raise ConfigError(f"{what} contains a NUL byte (\\0), which cannot be sent to a shell")
    return text


def command_text(command: Command) -> str:
    """Return shell text: a string as given, an argv list with every word quoted."""
    if isinstance(command, str):
        if not command.strip():
            raise ConfigError("command is empty")
        return check_text(command, f"command {command!r}")
    words = list(command)
    if not words or not all(isinstance(word, str) for word in words):
        raise ConfigError(f"command must be a string or a non-empty list of strings: {command!r}")
    return check_text(shlex.join(words), f"command {words!r}")


def quote_path(path: str) -> str:
    """Quote a path for the shell, keeping a leading `~` or `~/` expandable."""
    if path == "~":
        return "~"
    if path.startswith("~/"):
        rest = path[2:]
        return "~/" + shlex.quote(rest) if rest else "~/"
    return shlex.quote(path)


Env = Mapping[str, "str | Secret"]


def plain_env(env: Env) -> dict[str, str]:
    """Return env with Secret values revealed (for handing to a process or the server)."""
    return {name: reveal(value) or "" for name, value in env.items()}


def secret_values(env: Env) -> list[str]:
    """Return the values of env marked secret."""
    return [value.reveal() for value in env.values() if isinstance(value, Secret)]


def masked_env(env: Env) -> dict[str, str]:
    """Return env with every value masked (for what a log may show of a command)."""
    return dict.fromkeys(env, MASK)


def check_env(env: Env, where: str | None = None) -> None:
    """Reject environment variable names the shell cannot export, and values with a NUL.

    `where` (a host) is named in the message; a value is never shown (it may be a secret).
    """
    at = f"{where}: " if where else ""
    for name, value in env.items():
        if not _ENV_NAME.match(name):
            raise ConfigError(f"{at}env name {name!r} is not a valid shell variable name")
        if "\0" in (reveal(value) or ""):
            raise ConfigError(
                f"{at}env {name}: the value contains a NUL byte (\\0), which no environment "
                "variable can hold; nothing was sent"
            )


def env_prefix(env: Env) -> str:
    """Return `export K='v' ... && ` for inline env, values quoted (empty for no env)."""
    if not env:
        return ""
    check_env(env)
    pairs = " ".join(f"{name}={shlex.quote(value)}" for name, value in plain_env(env).items())
    return f"export {pairs} && "


#: Shell text that `&&` would not guard whole: a newline, `;`, `||` or a lone `&`.
_LIST = re.compile(r"\n|;|\|\||(?<!&)&(?!&)")


def wrap(command: str, *, cwd: str | None = None, prefixes: Sequence[str] = ()) -> str:
    """Apply a working directory and prefix commands: `cd D && p1 && p2 && command`.

    A command that is a list (`a; b`, `a || b`, several lines) is grouped, `cd D && { a; b
    }`, so that no part of it runs when the `cd` or a prefix failed.
    """
    parts = []
    if cwd is not None:
        parts.append(f"cd {quote_path(check_text(cwd, f'cd() path {cwd!r}'))}")
    parts.extend(check_text(prefix, f"prefix() command {prefix!r}") for prefix in prefixes)
    if parts and _LIST.search(command):
        command = "{ " + command + "\n}"
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
