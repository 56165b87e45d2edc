"""`Shaping`: the `cd()` and `prefix()` blocks a command runs under, for any place it runs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .command import Command, command_text, join_cwd, wrap


class Shaping:
    """cd() and prefix() blocks, and the shell text they make of a command (a mixin)."""

    _cwd: list[str]
    _prefixes: list[str]

    def _init_shaping(self) -> None:
        self._cwd = []
        self._prefixes = []

    @contextlib.contextmanager
    def cd(self, path: str) -> Iterator[None]:
        """Run commands in `path` (nested relative paths join) while the block runs."""
        self._cwd.append(str(path))
        try:
            yield
        finally:
            self._cwd.pop()

    @contextlib.contextmanager
    def prefix(self, command: str) -> Iterator[None]:
        """Run `command && ` before each command while the block runs."""
        self._prefixes.append(command)
        try:
            yield
        finally:
            self._prefixes.pop()

    @property
    def cwd(self) -> str | None:
        """The working directory set by enclosing `cd()` blocks, if any."""
        return join_cwd(self._cwd)

    def _shape(self, command: Command) -> str:
        """Return the shell text of `command` under the enclosing cd() and prefix() blocks."""
        return wrap(command_text(command), cwd=self.cwd, prefixes=self._prefixes)
