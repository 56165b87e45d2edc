"""`invoke.terminals`' `pty_size`: the size of this terminal."""

from __future__ import annotations

import shutil

__all__ = ["pty_size"]


def pty_size() -> tuple[int, int]:
    """Return (columns, rows) of the terminal (80 x 24 where there is none), as Invoke's."""
    size = shutil.get_terminal_size((80, 24))
    return size.columns, size.lines
