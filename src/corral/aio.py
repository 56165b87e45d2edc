"""corral's async API: the same classes as `corral`, with awaitable methods."""

from .config import Config, Secret
from .errors import (
    AuthenticationError,
    AuthFailure,
    CommandTimedOut,
    ConnectError,
    ConnectionLost,
    CorralError,
    Failure,
    GroupException,
    HostKeyError,
    UnexpectedExit,
)
from .remote.connection import Connection
from .remote.group import Group, SerialGroup, ThreadingGroup
from .result import GroupResult, Result
from .runner.watchers import FailingResponder, Responder, StreamWatcher

__all__ = [
    "AuthFailure",
    "AuthenticationError",
    "CommandTimedOut",
    "Config",
    "ConnectError",
    "Connection",
    "ConnectionLost",
    "CorralError",
    "FailingResponder",
    "Failure",
    "Group",
    "GroupException",
    "GroupResult",
    "HostKeyError",
    "Responder",
    "Result",
    "Secret",
    "SerialGroup",
    "StreamWatcher",
    "ThreadingGroup",
    "UnexpectedExit",
]
