"""The host's environment: `have_program` (patchwork's)."""

from __future__ import annotations

import shlex
from typing import Any

__all__ = ["have_program"]


def have_program(c: Any, name: str) -> Any:
    """Return the Result of looking `name` up on the user's PATH: true when it is there."""
    return c.run(f"command -v {shlex.quote(name)}", hide=True, warn=True)
