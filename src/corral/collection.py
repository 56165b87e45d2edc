"""`invoke.collection`'s name: `Collection`."""

from .tasks.collection import Collection

__all__ = ["Collection"]
