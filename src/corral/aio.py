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
    ParseError,
    UnexpectedExit,
    UnsupportedError,
)
from .remote.connection import Connection
from .remote.group import Group, SerialGroup, ThreadingGroup
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
    "FailingResponder",
    "Failure",
    "Group",
    "GroupException",
    "GroupResult",
    "HostKeyError",
    "ParseError",
    "Responder",
    "Result",
    "Secret",
    "SerialGroup",
    "StreamWatcher",
    "Task",
    "ThreadingGroup",
    "UnexpectedExit",
    "UnsupportedError",
    "call",
    "run",
    "sudo",
    "task",
]
