"""corral's async API: the same classes as `corral`, with awaitable methods."""

from . import operations as ops
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
from .remote.connection import Connection
from .remote.facts import Facts
from .remote.group import Group, SerialGroup, ThreadingGroup
from .remote.inventory import Inventory
from .result import GroupResult, Result
from .runner.context import Context
from .runner.watchers import FailingResponder, Responder, StreamWatcher
from .tasks import Call, Collection, Task, call, task

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
    "call",
    "inventory_hook",
    "ops",
    "task",
]
