"""Files and directories: `directory`, `exists`, `contains`, `append` (patchwork's)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from typing import Any

from .util import set_runner

__all__ = ["append", "contains", "directory", "exists"]

#: Characters a POSIX extended regular expression gives a meaning to.
_ERE_SPECIAL = re.compile(r"([\\.^$|?*+()\[\]{}])")


def _path(path: str) -> str:
    """A path as a shell word expanded as patchwork expands it (~, $VAR), then one path."""
    return f'"$(echo {path})"'


def _escape(text: str) -> str:
    """Escape `text` so grep -E matches it literally."""
    return _ERE_SPECIAL.sub(r"\\\1", text)


@set_runner
def directory(
    c: Any,
    runner: Any,
    path: str,
    user: str | None = None,
    group: str | None = None,
    mode: str | int | None = None,
) -> None:
    """Make sure a directory exists, owned by `user`:`group` (group: the user's) with `mode`."""
    runner(f"mkdir -p {_path(path)}")
    if user is not None:
        runner(f"chown {shlex.quote(f'{user}:{group or user}')} {_path(path)}")
    if mode is not None:
        runner(f"chmod {shlex.quote(str(mode))} {_path(path)}")


@set_runner
def exists(c: Any, runner: Any, path: str) -> bool:
    """True when `path` exists on the host."""
    return bool(runner(f"test -e {_path(path)}", hide=True, warn=True).ok)


@set_runner
def contains(
    c: Any, runner: Any, filename: str, text: str, exact: bool = False, escape: bool = True
) -> bool:
    """True when a line of `filename` contains `text` (a grep -E regex; escaped to match
    literally unless escape=False; exact=True: the whole line)."""
    if escape:
        text = _escape(text)
        if exact:
            text = f"^{text}$"
    command = f"grep -E -e {shlex.quote(text)} {_path(filename)}"
    return bool(runner(command, hide=True, warn=True).ok)


@set_runner
def append(
    c: Any,
    runner: Any,
    filename: str,
    text: str | Iterable[str],
    partial: bool = False,
    escape: bool = True,
) -> None:
    """Append each line of `text` (a string or a list of them) to `filename`, unless a line
    equal to it (partial=True: starting with it) is there already."""
    lines = [text] if isinstance(text, str) else list(text)
    for line in lines:
        pattern = "^" + _escape(line) + ("" if partial else "$")
        if (
            line
            and exists(c, filename, runner=runner)
            and contains(c, filename, pattern, escape=False, runner=runner)
        ):
            continue
        quoted = shlex.quote(line) if escape else f"'{line}'"
        runner(f"printf '%s\\n' {quoted} >> {_path(filename)}")
