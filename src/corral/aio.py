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
    HostKeyError,
    UnexpectedExit,
)
from .remote.connection import Connection
from .result import Result
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
    "HostKeyError",
    "Responder",
    "Result",
    "Secret",
    "StreamWatcher",
    "UnexpectedExit",
]
