"""corral: run commands, transfer files and deploy over SSH, from one host to thousands.

`corral` is the blocking API (Fabric-compatible names); `corral.aio` is its async twin.
"""

from importlib.metadata import PackageNotFoundError, version

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
    Failure,
    GroupException,
    HostKeyError,
    InventoryError,
    SelectionError,
    UnexpectedExit,
)
from .inventory import inventory_hook
from .operations.result import OpResult
from .remote.facts import Facts
from .result import GroupResult, Result
from .runner.watchers import FailingResponder, Responder, StreamWatcher
from .sync.connection import Connection
from .sync.context import Context
from .sync.group import Group, SerialGroup, ThreadingGroup
from .sync.inventory import Inventory
from .tasks import Call, Collection, Task, call, task

try:
    __version__ = version("corral")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

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
    "OpResult",
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
    "ops",
    "task",
]
