"""The blocking `Context`: each method one call onto the portal's loop; `run` and `sudo`,
Invoke's module-level functions (`from invoke import run as local`)."""

from __future__ import annotations

from typing import Any, Literal, overload

from ..config import Config, Secret
from ..result import Result
from ..runner.command import Command
from ..runner.context import Context as AsyncContext
from ..runner.options import RunKwargs, Unpack
from .facade import Promise, Runner, detach_locally


class Context(Runner, core=AsyncContext):
    """Run commands on this machine, with the options of `Connection.run` (blocking twin)."""

    _async: AsyncContext

    def __init__(self, config: Config | None = None) -> None:
        self._adopt(AsyncContext(config))

    def _disown(self, shaped: str, kwargs: dict[str, Any]) -> None:
        detach_locally(shaped, self.config, kwargs)  # it outlives corral, as Invoke's does

    def __repr__(self) -> str:
        return repr(self._async)


# asynchronous=True: a Promise; disown=True: None; else the Result
@overload
def run(
    command: Command, *, asynchronous: Literal[True], **kwargs: Unpack[RunKwargs]
) -> Promise: ...
@overload
def run(command: Command, *, disown: Literal[True], **kwargs: Unpack[RunKwargs]) -> None: ...
@overload
def run(command: Command, **kwargs: Unpack[RunKwargs]) -> Result: ...
def run(command: Command, **kwargs: Any) -> Any:
    """Run a shell command on this machine (Invoke's `invoke.run`: a Context of its own)."""
    return Context().run(command, **kwargs)


# as for run
@overload
def sudo(
    command: Command,
    user: str | None = None,
    password: str | Secret | None = None,
    *,
    asynchronous: Literal[True],
    **kwargs: Unpack[RunKwargs],
) -> Promise: ...
@overload
def sudo(
    command: Command,
    user: str | None = None,
    password: str | Secret | None = None,
    *,
    disown: Literal[True],
    **kwargs: Unpack[RunKwargs],
) -> None: ...
@overload
def sudo(
    command: Command,
    user: str | None = None,
    password: str | Secret | None = None,
    **kwargs: Unpack[RunKwargs],
) -> Result: ...
def sudo(
    command: Command,
    user: str | None = None,
    password: str | Secret | None = None,
    **kwargs: Any,
) -> Any:
    """Run a command through sudo on this machine (Invoke's `invoke.sudo`)."""
    return Context().sudo(command, user, password, **kwargs)


__all__ = ["Context", "run", "sudo"]
