"""Tasks: `@task`, `Collection`, finding the corralfile, and the executor that runs tasks."""

from .collection import Collection
from .executor import Executor
from .loader import find_collection, load_collection
from .task import Call, ConnectionCall, Task, call, task

__all__ = [
    "Call",
    "Collection",
    "ConnectionCall",
    "Executor",
    "Task",
    "call",
    "find_collection",
    "load_collection",
    "task",
]
