"""`fabric.executor` and `invoke.executor`: `Executor`, the extension point a program built
on corral may subclass (`normalize_hosts`, `expand_calls`, `dedupe`)."""

from .tasks.executor import Executor
from .tasks.task import ConnectionCall

__all__ = ["ConnectionCall", "Executor"]
