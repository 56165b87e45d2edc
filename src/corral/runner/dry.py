"""The one gate between a command and the host: dry runs and check mode.

- `corral --dry` (config `run.dry`): print each command, transfer and rsync; run nothing,
  connect nowhere.
- `corral --check` (config `run.check`): change nothing. Commands are reported as "would run"
  and not executed; only read-only probes (`Connection.probe`, which operations and guards use
  to read a host's state) pass the gate.
"""

from __future__ import annotations

import sys
from typing import Any

from ..config import Config
from ..result import Result, TransferResult


def is_dry(config: Config) -> bool:
    """True when commands and transfers are only to be shown (`corral --dry`, `run.dry`)."""
    return bool(config.get("run.dry"))


def is_check(config: Config) -> bool:
    """True in check mode (`corral --check`, `run.check`): nothing may change on a host."""
    return bool(config.get("run.check"))


def is_held(config: Config, *, probe: bool = False) -> bool:
    """The gate: True when a command must be shown instead of run.

    Under --dry every command is held (nothing connects); under --check every command but a
    read-only probe.
    """
    if is_dry(config):
        return True
    return is_check(config) and not probe


def dry_result(display: str, *, host: str, connection: Any = None, check: bool = False) -> Result:
    """Print the command that would run on `host` and return an empty, successful Result."""
    words = "would run: " if check else ""
    print(f"[{host}] {words}{display}", file=sys.stdout, flush=True)
    return Result(command=display, exited=0, host=host, connection=connection)


def dry_transfer(
    verb: str,
    local: Any,
    remote: str | None,
    *,
    host: str,
    connection: Any = None,
    check: bool = False,
) -> TransferResult:
    """Print the transfer that would happen on `host`; return a result that changed nothing."""
    source, target = (local, remote) if verb == "put" else (remote, local)
    words = "would " if check else ""
    print(f"[{host}] {words}{verb} {source} -> {target}", file=sys.stdout, flush=True)
    return TransferResult(
        local=local,
        orig_local=local,
        remote=remote or "",
        orig_remote=remote,
        connection=connection,
        host=host,
        changed=False,
    )
