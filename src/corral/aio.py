"""corral's async API: the same classes as `corral`, with awaitable methods."""

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
from .remote.connection import Connection
from .remote.facts import Facts
from .remote.group import Group, SerialGroup, ThreadingGroup
from .remote.inventory import Inventory
from .result import GroupResult, Result
from .runner.context import Context, run, sudo
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
    "call",
    "inventory_hook",
    "run",
    "sudo",
    "task",
]
