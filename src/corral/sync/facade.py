"""The blocking twins' common ground: each holds its async core and calls it on the portal.

The core never knows its twin. Which twin stands for which core is kept here (weakly, on the
portal), and what a call returns or raises comes back naming the twin the caller holds:
`result.connection` and a GroupResult's keys are blocking Connections, as in Fabric.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Awaitable, Callable
from contextlib import AbstractContextManager
from typing import Any, ClassVar, ParamSpec, Protocol, TypeVar

from ..config import Config, Secret
from ..result import GroupResult, Result, RsyncResult, TransferResult
from ..runner.command import Command
from ..runner.options import RunKwargs, Unpack
from .portal import portal

if sys.version_info >= (3, 11):
    from typing import Self
else:  # pragma: no cover
    from typing_extensions import Self

P = ParamSpec("P")
T = TypeVar("T")


class Facade:
    """Base of the blocking twins: `_async` is the core every method is one call onto."""

    _async: Any
    #: core class -> its blocking twin's class (filled as twin classes are defined)
    _twin_classes: ClassVar[dict[type, type[Facade]]] = {}

    def __init_subclass__(cls, core: type | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if core is not None:
            Facade._twin_classes[core] = cls

    def _adopt(self, core: Any) -> None:
        """Hold `core` and become its twin."""
        self._async = core
        portal.twins[core] = self

    @classmethod
    def twin(cls, core: Any) -> Self:
        """Return the blocking twin of an async core (made once, then reused)."""
        existing = portal.twins.get(core)
        if isinstance(existing, cls):
            return existing
        self = cls.__new__(cls)
        self._adopt(core)
        return self


def twin_of(value: Any) -> Any:
    """Return the blocking twin of a core object (made on demand), or the value itself."""
    if value is None:
        return None
    existing = portal.twins.get(value) if _weakrefable(value) else None
    if existing is not None:
        return existing
    for klass in type(value).__mro__:
        twin_class = Facade._twin_classes.get(klass)
        if twin_class is not None:
            return twin_class.twin(value)
    return value


def _weakrefable(value: Any) -> bool:
    return hasattr(type(value), "__weakref__")


def public(value: T) -> T:
    """Return what a core call gave, naming blocking twins instead of their cores."""
    if isinstance(value, Result | TransferResult | RsyncResult):
        twin = twin_of(value.connection)
        if twin is not value.connection:
            return dataclasses.replace(value, connection=twin)
        return value
    if isinstance(value, GroupResult):
        keyed = GroupResult(duration=value.duration)
        for key, outcome in value.items():
            keyed[twin_of(key)] = public(outcome)
        keyed.durations = {twin_of(key): took for key, took in value.durations.items()}
        return keyed  # type: ignore[return-value]
    if isinstance(value, BaseException):
        carried = getattr(value, "result", None)
        if isinstance(carried, Result | RsyncResult | GroupResult):
            # The error keeps its identity (tracebacks, `except`); what it carries is re-keyed.
            value.result = public(carried)  # type: ignore[attr-defined]
    return value


def call(func: Callable[P, Awaitable[T]], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run a core coroutine on the portal; return (or raise) it naming blocking twins."""
    try:
        return public(portal.call(func, *args, **kwargs))
    except BaseException as exc:
        public(exc)
        raise


class _Runs(Protocol):
    """What a core offers for running commands (async Connection and Context)."""

    config: Config

    @property
    def cwd(self) -> str | None: ...

    def cd(self, path: str) -> AbstractContextManager[None]: ...

    def prefix(self, command: str) -> AbstractContextManager[None]: ...

    async def run(self, command: Command, **kwargs: Unpack[RunKwargs]) -> Result: ...

    async def sudo(
        self,
        command: Command,
        user: str | None = None,
        password: str | Secret | None = None,
        **kwargs: Unpack[RunKwargs],
    ) -> Result: ...


class Runner(Facade):
    """What the blocking Connection and Context share: cd(), prefix(), run and sudo."""

    _async: _Runs

    @property
    def config(self) -> Config:
        """The Config this object reads its settings from."""
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
        """Run a shell command and return its Result."""
        return call(self._async.run, command, **kwargs)

    def sudo(
        self,
        command: Command,
        user: str | None = None,
        password: str | Secret | None = None,
        **kwargs: Unpack[RunKwargs],
    ) -> Result:
        """Run a command through sudo (as root, or `user`), answering its password prompt."""
        return call(self._async.sudo, command, user, password, **kwargs)
