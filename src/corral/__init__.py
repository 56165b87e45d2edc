"""corral: run commands, transfer files and deploy over SSH, from one host to thousands.

`corral` is the blocking API (Fabric-compatible names); `corral.aio` is its async twin.
The other names `fabric` and `invoke` have at their top (`Executor`, `Program`, `Promise`,
`MockContext`, `Argument`, ...) load from their corral modules on first use.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not typing's: importing typing costs more than all of this module
if TYPE_CHECKING:
    from typing import Any

    from . import ops
    from .config import Config, Secret
    from .errors import (
        AuthenticationError,
        AuthFailure,
        CollectionNotFound,
        CommandTimedOut,
        ConnectError,
        ConnectionLost,
        CorralError,
        Exit,
        Failure,
        GroupException,
        HostKeyError,
        InventoryError,
        ParseError,
        SelectionError,
        UnexpectedExit,
        UnsupportedError,
    )
    from .inventory import inventory_hook
    from .operations.result import OpResult
    from .remote.facts import Facts
    from .result import GroupResult, Result
    from .runner.watchers import FailingResponder, Responder, StreamWatcher
    from .sync.connection import Connection
    from .sync.context import Context, run, sudo
    from .sync.group import Group, SerialGroup, ThreadingGroup
    from .sync.inventory import Inventory
    from .tasks import Call, Collection, Task, call, task

    __version__: str
    __version_info__: tuple[int, ...]

#: Where each public name lives: imported on first use (PEP 562), so that `import corral`,
#: and the command line's broker client, need not load the engine (asyncssh, rich, ...).
_EXPORTS = {
    "AuthFailure": "corral.errors",
    "AuthenticationError": "corral.errors",
    "Call": "corral.tasks",
    "Collection": "corral.tasks",
    "CollectionNotFound": "corral.errors",
    "CommandTimedOut": "corral.errors",
    "Config": "corral.config",
    "ConnectError": "corral.errors",
    "Connection": "corral.sync.connection",
    "ConnectionLost": "corral.errors",
    "Context": "corral.sync.context",
    "CorralError": "corral.errors",
    "Exit": "corral.errors",
    "Facts": "corral.remote.facts",
    "FailingResponder": "corral.runner.watchers",
    "Failure": "corral.errors",
    "Group": "corral.sync.group",
    "GroupException": "corral.errors",
    "GroupResult": "corral.result",
    "HostKeyError": "corral.errors",
    "Inventory": "corral.sync.inventory",
    "InventoryError": "corral.errors",
    "OpResult": "corral.operations.result",
    "ParseError": "corral.errors",
    "Responder": "corral.runner.watchers",
    "Result": "corral.result",
    "Secret": "corral.config",
    "SelectionError": "corral.errors",
    "SerialGroup": "corral.sync.group",
    "StreamWatcher": "corral.runner.watchers",
    "Task": "corral.tasks",
    "ThreadingGroup": "corral.sync.group",
    "UnexpectedExit": "corral.errors",
    "UnsupportedError": "corral.errors",
    "call": "corral.tasks",
    "inventory_hook": "corral.inventory",
    "run": "corral.sync.context",
    "sudo": "corral.sync.context",
    "task": "corral.tasks",
}

#: Names of Fabric's and Invoke's top levels that live in other corral modules.
_ELSEWHERE = {
    "Argument": "corral.parser",
    "Executor": "corral.tasks.executor",
    "Fab": "corral.main",
    "FilesystemLoader": "corral.loader",
    "Local": "corral.runners",
    "MockContext": "corral.testing.mock",
    "ParseResult": "corral.parser",
    "Parser": "corral.parser",
    "ParserContext": "corral.parser",
    "Program": "corral.program",
    "Promise": "corral.runners",
    "Remote": "corral.runners",
    "RemoteShell": "corral.runners",
    "Runner": "corral.runners",
    "pty_size": "corral.terminals",
    **{
        name: "corral.exceptions"
        for name in (
            "AmbiguousEnvVar",
            "AuthFailure",
            "CommandInterrupted",
            "NothingToDo",
            "PlatformError",
            "ResponseNotAccepted",
            "SubprocessPipeError",
            "ThreadException",
            "UncastableEnvVar",
            "UnknownFileType",
            "UnpicklableConfigMember",
            "WatcherError",
        )
    },
}


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("corral")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


if not TYPE_CHECKING:  # typed code sees the names imported above, and no others

    def __getattr__(name: str) -> Any:
        """Import a public name on first use (and keep it); load a Fabric or Invoke name from
        the corral module that has it, or one of corral's modules (`invoke.exceptions` after
        `import invoke`, as Invoke's has it)."""
        if name == "__version__":
            value = _version()
        elif name == "__version_info__":
            value = tuple(
                int(part) for part in __getattr__("__version__").split(".")[:3] if part.isdigit()
            )
        elif name in _EXPORTS:
            value = getattr(importlib.import_module(_EXPORTS[name]), name)
        elif name in _ELSEWHERE:
            value = getattr(importlib.import_module(_ELSEWHERE[name]), name)
        else:
            from importlib.util import find_spec

            if not (name.isidentifier() and find_spec(f"corral.{name}") is not None):
                raise AttributeError(f"module 'corral' has no attribute {name!r}")
            value = importlib.import_module(f"corral.{name}")
        globals()[name] = value
        return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


__all__ = [
    "AuthFailure",
    "AuthenticationError",
    "Call",
    "Collection",
    "CollectionNotFound",
    "CommandTimedOut",
    "Config",
    "ConnectError",
    "Connection",
    "ConnectionLost",
    "Context",
    "CorralError",
    "Exit",
    "Facts",
    "FailingResponder",
    "Failure",
    "Group",
    "GroupException",
    "GroupResult",
    "HostKeyError",
    "Inventory",
    "InventoryError",
    "OpResult",
    "ParseError",
    "Responder",
    "Result",
    "Secret",
    "SelectionError",
    "SerialGroup",
    "StreamWatcher",
    "Task",
    "ThreadingGroup",
    "UnexpectedExit",
    "UnsupportedError",
    "__version__",
    "call",
    "inventory_hook",
    "ops",
    "run",
    "sudo",
    "task",
]
