"""corral: run commands, transfer files and deploy over SSH, from one host to thousands.

`corral` is the blocking API (Fabric-compatible names); `corral.aio` is its async twin.
"""

from importlib.metadata import PackageNotFoundError, version

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
from .result import Result
from .runner.watchers import FailingResponder, Responder, StreamWatcher
from .sync.connection import Connection

try:
    __version__ = version("corral")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0"

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
    "__version__",
]
