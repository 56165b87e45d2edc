"""`Shaping`: the `cd()` and `prefix()` blocks a command runs under, for any place it runs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .command import Command, command_text, join_cwd, wrap


class Shaping:
    """cd() and prefix() blocks, and the shell text they make of a command (a mixin).

    The stacks are tuples, replaced (never changed in place) as blocks open and close.
    """

    _cwd: tuple[str, ...] = ()
    _prefixes: tuple[str, ...] = ()

    @contextlib.contextmanager
    def cd(self, path: str) -> Iterator[None]:
        """Run commands in `path` (nested relative paths join) while the block runs."""
        saved = self._cwd
        self._cwd = (*saved, str(path))
        try:
            yield
        finally:
            self._cwd = saved

    @contextlib.contextmanager
    def prefix(self, command: str) -> Iterator[None]:
        """Run `command && ` before each command while the block runs."""
        saved = self._prefixes
        self._prefixes = (*saved, command)
        try:
            yield
        finally:
            self._prefixes = saved

    @property
    def cwd(self) -> str | None:
        """The working directory set by enclosing `cd()` blocks, if any."""
        return join_cwd(self._cwd)

    def _shape(self, command: Command) -> str:
        """Return the shell text of `command` under the enclosing cd() and prefix() blocks."""
        return wrap(command_text(command), cwd=self.cwd, prefixes=self._prefixes)
