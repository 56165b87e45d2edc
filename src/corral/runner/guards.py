"""Guards (`creates=`, `unless=`, `onlyif=`, as in Ansible and Salt): read-only checks that
decide whether a command runs, so that a plain command can be made idempotent.

`creates=PATH` skips the command when PATH exists; `unless=CMD` skips it when CMD succeeds;
`onlyif=CMD` runs it only when CMD succeeds. The checks are probes: they run under
`--check` too, so check mode can say whether the command would run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from ..result import Result
from .command import Command, command_text, quote_path
from .options import RunOptions

Probe = Callable[[str], Awaitable[Result]]


def guard_commands(options: RunOptions) -> list[tuple[str, str]]:
    """Return (guard, shell text) for each guard set, in the order they are checked."""
    checks: list[tuple[str, str]] = []
    if options.creates is not None:
        checks.append(("creates", f"test -e {quote_path(options.creates)}"))
    if options.unless is not None:
        checks.append(("unless", command_text(options.unless)))
    if options.onlyif is not None:
        checks.append(("onlyif", command_text(options.onlyif)))
    return checks


def _shown(value: Command) -> str:
    return repr(value if isinstance(value, str) else command_text(value))


async def guard_verdict(options: RunOptions, probe: Probe) -> str | None:
    """Check the guards with `probe`; return why the command must not run, or None to run it."""
    for guard, text in guard_commands(options):
        result = await probe(text)
        if guard == "creates" and result.ok:
            return f"creates={options.creates!r} exists"
        if guard == "unless" and result.ok:
            assert options.unless is not None
            return f"unless={_shown(options.unless)} succeeded"
        if guard == "onlyif" and not result.ok:
            assert options.onlyif is not None
            return f"onlyif={_shown(options.onlyif)} failed (status {result.exited})"
    return None


def skipped_result(display: str, reason: str, *, host: str, connection: Any = None) -> Result:
    """Return the Result of a command a guard kept from running: successful, no output."""
    return Result(command=display, exited=0, host=host, connection=connection, skipped_by=reason)
