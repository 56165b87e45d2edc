"""`invoke.loader`'s `FilesystemLoader` and `Loader`: they import, and refuse to be made:
corral finds the corralfile (or fabfile) itself (-c NAME, -r DIR)."""

from __future__ import annotations

from typing import Any

from .errors import UnsupportedError

__all__ = ["FilesystemLoader", "Loader"]


class Loader:
    """Invoke's task-module loader: not in corral (the error says what to use)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise UnsupportedError(
            f"{type(self).__name__}: corral finds the corralfile itself (corralfile.py, else "
            "fabfile.py, searched upward; -c NAME, -r DIR); a program built on corral gives "
            "its tasks as Program(namespace=Collection.from_module(...))"
        )


class FilesystemLoader(Loader):
    """Invoke's filesystem loader: not in corral."""
