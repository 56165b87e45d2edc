"""Dry runs (`corral --dry`, config `run.dry`): print the command, run nothing."""

from __future__ import annotations

import sys
from typing import Any

from ..result import Result


def dry_result(display: str, *, host: str, connection: Any = None) -> Result:
    """Print the command that would run on `host` and return an empty, successful Result."""
    print(f"[{host}] {display}", file=sys.stdout, flush=True)
    return Result(command=display, exited=0, host=host, connection=connection)
