"""corral: run commands, transfer files and deploy over SSH, from one host to thousands.

`corral` is the blocking API (Fabric-compatible names); `corral.aio` is its async twin.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # not typing's: importing typing costs more than all of this module
if TYPE_CHECKING:
    from typing import Any

    from .config import Config, Secret
    from .errors import (
        AuthenticationError,
        AuthFailure,
        CollectionNotFound,
        CommandTimedOut,
        ConnectError,
        ConnectionLost,
        CorralError,
        Failure,
        GroupException,
        HostKeyError,
        InventoryError,
        SelectionError,
        UnexpectedExit,
    )
    from .inventory import inventory_hook
    from .remote.facts import Facts
    from .result import GroupResult, Result
    from .runner.watchers import FailingResponder, Responder, StreamWatcher
    from .sync.connection import Connection
    from .sync.context import Context
    from .sync.group import Group, SerialGroup, ThreadingGroup
    from .sync.inventory import Inventory
    from .tasks import Call, Collection, Task, call, task

    __version__: str

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
    "Facts": "corral.remote.facts",
    "FailingResponder": "corral.runner.watchers",
    "Failure": "corral.errors",
    "Group": "corral.sync.group",
    "GroupException": "corral.errors",
    "GroupResult": "corral.result",
    "HostKeyError": "corral.errors",
    "Inventory": "corral.sync.inventory",
    "InventoryError": "corral.errors",
    "Responder": "corral.runner.watchers",
    "Result": "corral.result",
    "Secret": "corral.config",
    "SelectionError": "corral.errors",
    "SerialGroup": "corral.sync.group",
    "StreamWatcher": "corral.runner.watchers",
    "Task": "corral.tasks",
    "ThreadingGroup": "corral.sync.group",
    "UnexpectedExit": "corral.errors",
    "call": "corral.tasks",
    "inventory_hook": "corral.inventory",
    "task": "corral.tasks",
}


def __getattr__(name: str) -> Any:
    """Import a public name on first use (and keep it)."""
    if name == "__version__":
        value: Any = _version()
    elif name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    else:
        raise AttributeError(f"module 'corral' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("corral")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


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
    "Facts",
    "FailingResponder",
    "Failure",
    "Group",
    "GroupException",
    "GroupResult",
    "HostKeyError",
    "Inventory",
    "InventoryError",
    "Responder",
    "Result",
    "Secret",
    "SelectionError",
    "SerialGroup",
    "StreamWatcher",
    "Task",
    "ThreadingGroup",
    "UnexpectedExit",
    "__version__",
    "call",
    "inventory_hook",
    "task",
]
