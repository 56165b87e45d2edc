"""`fabric.runners` and `invoke.runners`: `Result`, `Failure`, `Promise`; Invoke's runner
classes (`Runner`, `Local`, `Remote`, `RemoteShell`) import but refuse to be made: corral
runs commands through `Connection.run` and `Context.run`, not runner objects."""

from __future__ import annotations

from typing import Any

from .errors import Failure, UnsupportedError
from .result import Result
from .sync.facade import Promise

__all__ = ["Failure", "Local", "Promise", "Remote", "RemoteShell", "Result", "Runner"]


class Runner:
    """Invoke's runner base class: not in corral (the error says what to use)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise UnsupportedError(
            f"{type(self).__name__}: corral has no runner classes; run commands with "
            "c.run()/c.sudo() (Connection or Context), or corral.run() here; to change how "
            "they run, use run()'s options or config run.*"
        )


class Local(Runner):
    """Invoke's local runner: not in corral (use `Context.run` or `corral.run`)."""


class Remote(Runner):
    """Fabric's remote runner: not in corral (use `Connection.run`)."""


class RemoteShell(Remote):
    """Fabric's remote shell runner: not in corral (use `Connection.shell`)."""
