"""`invoke.context`'s names: `Context`, and `MockContext` (from corral's test kit, loaded
only when asked for)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .sync.context import Context

if TYPE_CHECKING:
    from .testing.mock import MockContext

__all__ = ["Context", "MockContext"]


def __getattr__(name: str) -> Any:
    """Load `MockContext` from the test kit on first use."""
    if name == "MockContext":
        from .testing.mock import MockContext

        return MockContext
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
