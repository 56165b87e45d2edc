"""The blocking twins' common ground: each holds its async core and calls it on the portal.

The core never knows its twin. Which twin stands for which core is kept here (weakly, on the
portal), and what a call returns or raises comes back naming the twin the caller holds:
`result.connection` and a GroupResult's keys are blocking Connections, as in Fabric.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, ClassVar, Literal, ParamSpec, Protocol, TypeVar, overload

from ..config import Config, Secret
from ..errors import ConfigError
from ..result import GroupResult, Result, RsyncResult, TransferResult
from ..runner.command import Command, command_text
from ..runner.local import spawn_detached
from ..runner.options import RunKwargs, Unpack, resolve_options
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
    _cwd: tuple[str, ...]
    _prefixes: tuple[str, ...]

    @property
    def cwd(self) -> str | None: ...

    def cd(self, path: str) -> AbstractContextManager[None]: ...

    def prefix(self, command: str) -> AbstractContextManager[None]: ...

    def _shape(self, command: Command) -> str: ...

    async def run(self, command: Command, **kwargs: Unpack[RunKwargs]) -> Result: ...

    async def _run_shaped(self, shaped: str, **kwargs: Unpack[RunKwargs]) -> Result: ...

    async def sudo(
        self,
        command: Command,
        user: str | None = None,
        password: str | Secret | None = None,
        **kwargs: Unpack[RunKwargs],
    ) -> Result: ...

    async def _sudo_shaped(
        self,
        shaped: str,
        user: str | None = None,
        password: str | Secret | None = None,
        **kwargs: Unpack[RunKwargs],
    ) -> Result: ...


class Promise:
    """A command started with `asynchronous=True` (Invoke's Promise): `join()` waits for it
    and returns its Result, or raises what it raised (e.g. UnexpectedExit); leaving a `with`
    block joins it."""

    def __init__(self, future: Future[Result], command: str) -> None:
        self._future = future
        self.command = command

    @property
    def done(self) -> bool:
        """True once the command has ended."""
        return self._future.done()

    def join(self) -> Result:
        """Wait for the command to end; return its Result, or raise its error."""
        try:
            return public(self._future.result())
        except BaseException as exc:
            if not self._future.done():  # Ctrl-C while waiting: the command stops too
                self._future.cancel()
            public(exc)
            raise

    def __enter__(self) -> Promise:
        return self

    def __exit__(self, *exc: object) -> None:
        self.join()

    def __repr__(self) -> str:
        return f"<Promise {self.command!r} {'done' if self.done else 'running'}>"


#: What a disowned command gets: no output shown or kept, no input, no error for its status.
DISOWNED: RunKwargs = {"hide": True, "warn": True, "in_stream": False}


def how_started(config: Config, kwargs: dict[str, Any]) -> tuple[bool, bool]:
    """Pop `asynchronous` and `disown` from a call's kwargs (config `run.*` when not given)."""
    run = config.get("run")
    section: Mapping[str, Any] = run if run is not None else {}
    asynchronous = kwargs.pop("asynchronous", None)
    disown = kwargs.pop("disown", None)
    asynchronous = bool(section.get("asynchronous") if asynchronous is None else asynchronous)
    disown = bool(section.get("disown") if disown is None else disown)
    if asynchronous and disown:
        raise ConfigError("asynchronous=True and disown=True cannot go together: choose one")
    return asynchronous, disown


def detach_locally(command: Command, config: Config, kwargs: Mapping[str, Any]) -> None:
    """disown=True on this machine: start the command and leave it running, as Invoke does."""
    spawn_detached(command_text(command), resolve_options(config, kwargs))


#: Names that stay errors on the blocking twins rather than config lookups.
NOT_CONFIG = frozenset({"client", "transport"})


class Runner(Facade):
    """What the blocking Connection and Context share: cd(), prefix(), run and sudo.

    As Invoke's Context, an attribute they do not have is read from (and set in) their
    config: `c.deploy_env` is `c.config.deploy_env`, and `c.deploy_env = "prod"` sets it.
    """

    _async: _Runs

    @property
    def config(self) -> Config:
        """The Config this object reads its settings from."""
        return self._async.config

    @property
    def cwd(self) -> str | None:
        """The working directory set by enclosing `cd()` blocks, if any."""
        return self._async.cwd

    @property
    def command_cwds(self) -> list[str]:
        """The paths of the enclosing `cd()` blocks, outermost first (Invoke's name)."""
        return list(self._async._cwd)

    @property
    def command_prefixes(self) -> list[str]:
        """The commands of the enclosing `prefix()` blocks, outermost first (Invoke's name)."""
        return list(self._async._prefixes)

    def cd(self, path: str) -> AbstractContextManager[None]:
        """Run commands in `path` (nested relative paths join) while the block runs."""
        return self._async.cd(path)

    def prefix(self, command: str) -> AbstractContextManager[None]:
        """Run `command && ` before each command while the block runs."""
        return self._async.prefix(command)

    # asynchronous=True: a Promise, joined later; disown=True: started and left (None)
    @overload
    def run(
        self,
        command: Command,
        *,
        asynchronous: Literal[True],
        **kwargs: Unpack[RunKwargs],
    ) -> Promise: ...

    @overload
    def run(
        self, command: Command, *, disown: Literal[True], **kwargs: Unpack[RunKwargs]
    ) -> None: ...

    @overload
    def run(self, command: Command, **kwargs: Unpack[RunKwargs]) -> Result: ...

    def run(self, command: Command, **kwargs: Any) -> Any:
        """Run a shell command and return its Result (asynchronous=True: a Promise to join;
        disown=True: start it and return None at once, as Invoke does)."""
        asynchronous, disown = how_started(self.config, kwargs)
        if not (asynchronous or disown):
            return call(self._async.run, command, **kwargs)
        shaped = self._async._shape(command)  # cd() and prefix() as they are now
        if disown:
            self._disown(shaped, kwargs)
            return None
        return Promise(portal.submit(self._async._run_shaped, shaped, **kwargs), shaped)

    def _disown(self, shaped: str, kwargs: dict[str, Any]) -> None:
        """Start a shaped command and leave it (the twins say where it runs)."""
        portal.submit(self._async._run_shaped, shaped, **{**kwargs, **DISOWNED})

    @overload
    def sudo(
        self,
        command: Command,
        user: str | None = None,
        password: str | Secret | None = None,
        *,
        asynchronous: Literal[True],
        **kwargs: Unpack[RunKwargs],
    ) -> Promise: ...

    @overload
    def sudo(
        self,
        command: Command,
        user: str | None = None,
        password: str | Secret | None = None,
        *,
        disown: Literal[True],
        **kwargs: Unpack[RunKwargs],
    ) -> None: ...

    @overload
    def sudo(
        self,
        command: Command,
        user: str | None = None,
        password: str | Secret | None = None,
        **kwargs: Unpack[RunKwargs],
    ) -> Result: ...

    def sudo(
        self,
        command: Command,
        user: str | None = None,
        password: str | Secret | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run a command through sudo (as root, or `user`), answering its password prompt
        (asynchronous=True and disown=True as for `run`)."""
        asynchronous, disown = how_started(self.config, kwargs)
        if not (asynchronous or disown):
            return call(self._async.sudo, command, user, password, **kwargs)
        shaped = self._async._shape(command)
        if disown:
            portal.submit(
                self._async._sudo_shaped, shaped, user, password, **{**kwargs, **DISOWNED}
            )
            return None
        future = portal.submit(self._async._sudo_shaped, shaped, user, password, **kwargs)
        return Promise(future, shaped)

    if not TYPE_CHECKING:  # at run time only: typed code gets errors for misspelt names

        def __getattr__(self, name: str) -> Any:
            if name.startswith("_"):
                raise AttributeError(name)
            if name in NOT_CONFIG:  # the core's property says what to use instead
                return getattr(self._async, name)
            try:
                return getattr(self.config, name)
            except AttributeError:
                raise AttributeError(
                    f"{type(self).__name__} has no attribute {name!r}, and config has no key "
                    f"{name!r} (c.{name} reads c.config.{name}, as in Invoke)"
                ) from None

        def __setattr__(self, name: str, value: Any) -> None:
            if name.startswith("_") or hasattr(type(self), name):
                object.__setattr__(self, name, value)  # properties with setters, and ours
                return
            self.config[name] = value  # Invoke: an unknown attribute is a config setting
