"""corral: run commands, transfer files and deploy over SSH, from one host to thousands.

`corral` is the blocking API (Fabric-compatible names); `corral.aio` is its async twin.
The other names `fabric` and `invoke` have at their top (`Executor`, `Program`, `Promise`,
`MockContext`, `Argument`, ...) load from their corral modules on first use.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any

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
from .remote.facts import Facts
from .result import GroupResult, Result
from .runner.watchers import FailingResponder, Responder, StreamWatcher
from .sync.connection import Connection
from .sync.context import Context, run, sudo
from .sync.group import Group, SerialGroup, ThreadingGroup
from .sync.inventory import Inventory
from .tasks import Call, Collection, Task, call, task

try:
    __version__ = version("corral")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"
__version_info__ = tuple(int(part) for part in __version__.split(".")[:3] if part.isdigit())

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

if not TYPE_CHECKING:  # typed code imports these from their modules

    def __getattr__(name: str) -> Any:
        """Load a Fabric or Invoke name from the corral module that has it, or one of
        corral's modules (`invoke.exceptions` after `import invoke`, as Invoke's has it)."""
        module = _ELSEWHERE.get(name)
        if module is not None:
            value = getattr(import_module(module), name)
        elif name.isidentifier() and find_spec(f"corral.{name}") is not None:
            value = import_module(f"corral.{name}")
        else:
            raise AttributeError(f"module 'corral' has no attribute {name!r}")
        globals()[name] = value
        return value


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
    "run",
    "sudo",
    "task",
]
