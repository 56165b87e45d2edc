"""The blocking `Context`: each method one call onto the portal's loop."""

from __future__ import annotations

from contextlib import AbstractContextManager

from ..config import Config, Secret
from ..result import Result
from ..runner.command import Command
from ..runner.context import Context as AsyncContext
from ..runner.options import RunKwargs, Unpack
from .portal import portal


class Context:
    """Run commands on this machine, with the options of `Connection.run` (blocking twin)."""

    def __init__(self, config: Config | None = None) -> None:
        self._async: AsyncContext = AsyncContext(config)
        self._async._public = self

    @classmethod
    def _facade(cls, context: AsyncContext) -> Context:
        """Return the blocking twin of an async Context (made once, then reused)."""
        if isinstance(context._public, cls):
            return context._public
        self = cls.__new__(cls)
        self._async = context
        context._public = self
        return self

    @property
    def config(self) -> Config:
        """The Config this context reads its settings from."""
        return self._async.config

    @property
    def cwd(self) -> str | None:
        """The working directory set by enclosing `cd()` blocks, if any."""
        return self._async.cwd

    def cd(self, path: str) -> AbstractContextManager[None]:
        """Run commands in `path` (nested relative paths join) while the block runs."""
        return self._async.cd(path)

    def prefix(self, command: str) -> AbstractContextManager[None]:
        """Run `command && ` before each command while the block runs."""
        return self._async.prefix(command)

    def run(self, command: Command, **kwargs: Unpack[RunKwargs]) -> Result:
        """Run a shell command on this machine and return its Result."""
        return portal.call(self._async.run, command, **kwargs)

    def sudo(
        self,
        command: Command,
        user: str | None = None,
        password: str | Secret | None = None,
        **kwargs: Unpack[RunKwargs],
    ) -> Result:
        """Run a command through sudo (as root, or `user`), answering its password prompt."""
        return portal.call(self._async.sudo, command, user, password, **kwargs)

    def __repr__(self) -> str:
        return repr(self._async)


__all__ = ["Context"]
