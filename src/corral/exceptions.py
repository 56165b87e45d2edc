"""corral's exceptions, where Fabric and Invoke users look for them (see `corral.errors`).

Invoke's and Fabric's other names are here too, each the corral error raised in its place:
`AmbiguousEnvVar`, `UncastableEnvVar`, `UnknownFileType`, `UnpicklableConfigMember` and
`InvalidV1Env` are `ConfigError`; `NothingToDo` (a command after -- without hosts) is
`UsageError`; `ThreadException` (workers that failed) is `GroupException`; `PlatformError` and
`SubprocessPipeError`, which corral never raises, are `CorralError`.
"""

from .errors import *  # noqa: F403
from .errors import ConfigError, CorralError, GroupException, UsageError
from .errors import __all__ as _errors

AmbiguousEnvVar = ConfigError
UncastableEnvVar = ConfigError
UnknownFileType = ConfigError
UnpicklableConfigMember = ConfigError
InvalidV1Env = ConfigError
NothingToDo = UsageError
ThreadException = GroupException
PlatformError = CorralError
SubprocessPipeError = CorralError

__all__ = [
    *_errors,
    "AmbiguousEnvVar",
    "InvalidV1Env",
    "NothingToDo",
    "PlatformError",
    "SubprocessPipeError",
    "ThreadException",
    "UncastableEnvVar",
    "UnknownFileType",
    "UnpicklableConfigMember",
]
