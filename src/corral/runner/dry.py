"""Dry runs (`corral --dry`, config `run.dry`): print the command, run nothing."""

from __future__ import annotations

import sys
from typing import Any

from ..config import Config
from ..result import Result, TransferResult


def is_dry(config: Config) -> bool:
    """True when commands and transfers are only to be shown (`corral --dry`, `run.dry`)."""
    return bool(config.get("run.dry"))


def dry_result(display: str, *, host: str, connection: Any = None) -> Result:
    """Print the command that would run on `host` and return an empty, successful Result."""
    print(f"[{host}] {display}", file=sys.stdout, flush=True)
    return Result(command=display, exited=0, host=host, connection=connection)


def dry_transfer(
    verb: str, local: Any, remote: str | None, *, host: str, connection: Any = None
) -> TransferResult:
    """Print the transfer that would happen on `host`; return a result that changed nothing."""
    source, target = (local, remote) if verb == "put" else (remote, local)
    print(f"[{host}] {verb} {source} -> {target}", file=sys.stdout, flush=True)
    return TransferResult(
        local=local,
        orig_local=local,
        remote=remote or "",
        orig_remote=remote,
        connection=connection,
        host=host,
        changed=False,
    )
