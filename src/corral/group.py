"""`fabric.group`'s names: `Group`, `SerialGroup`, `ThreadingGroup`, `GroupResult`."""

from .result import GroupResult
from .sync.group import Group, SerialGroup, ThreadingGroup

__all__ = ["Group", "GroupResult", "SerialGroup", "ThreadingGroup"]
