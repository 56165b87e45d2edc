"""`Step`: one operation on one host, from its first probe to its report.

A step reads the host's state with probes (`Connection.probe`: read-only, so they run under
--check too), runs its changing commands unless it is checking (then it only records them),
and reports an `OpResult`: returned, emitted as an `OperationResult` event on the
connection's event stream, its diff printed under --diff, and the handlers it notifies
marked pending when it changed something.
"""

from __future__ import annotations

import io
import sys
import time
from collections.abc import Collection, Iterable
from typing import TYPE_CHECKING, Any

from ..config.secret import Secret
from ..errors import (
    OperationArgumentError,
    OperationError,
    OperationFailed,
)
from ..events import OperationResult
from ..result import Result
from ..runner.dry import is_check, is_dry
from .result import OpResult
from .state import PathState, parse_state, state_script

if TYPE_CHECKING:
    from ..remote.connection import Connection
    from .handlers import Handler

#: Options of every command an operation runs: quiet, never raising (the step decides),
#: and none of the caller's run.* settings that would change what it prints.
QUIET: dict[str, Any] = {
    "hide": True,
    "warn": True,
    "echo": False,
    "pty": False,
    "watchers": (),
    "env": {},
    "in_stream": False,
}


def _handlers(notify: Any) -> tuple[Handler, ...]:
    if notify is None:
        return ()
    if isinstance(notify, list | tuple):
        return tuple(notify)
    return (notify,)


class Step:
    """One operation on one host: probes, changes (held in check mode), its report."""

    def __init__(
        self,
        conn: Connection,
        operation: str,
        target: str,
        *,
        sudo: bool = False,
        check: bool | None = None,
        notify: Any = None,
        secrets: Iterable[str | Secret] = (),
    ) -> None:
        self.conn = conn
        self.host = conn.original_host
        self.operation = operation
        self.target = target
        self.sudo = sudo
        #: Check mode: from the call, or config run.check (which the call cannot switch off).
        self.check = bool(check) or is_check(conn.config)
        #: --dry: nothing connects, so the state cannot be read.
        self.dry = is_dry(conn.config)
        self.show_diff = bool(conn.config.get("run.diff"))
        self.handlers = _handlers(notify)
        self.secrets = [s.reveal() if isinstance(s, Secret) else s for s in secrets]
        self.commands: list[str] = []
        self.probes: list[str] = []
        self.result: OpResult | None = None

    # ------------------------------------------------------------------ errors

    def argument_error(self, argument: str | None, message: str) -> OperationArgumentError:
        """Return the error for a bad or contradictory argument (raise it)."""
        return OperationArgumentError(self.host, self.operation, argument, message)

    def error(
        self, kind: type[OperationError], argument: str | None, message: str
    ) -> OperationError:
        """Return an OperationError of `kind` for this step (raise it)."""
        return kind(self.host, self.operation, argument, message)

    def failed(self, result: Result, argument: str | None, message: str) -> OperationFailed:
        """Return the error for a command of this step that failed (raise it)."""
        hint = ""
        text = result.stderr + result.stdout
        if not self.sudo and ("Permission denied" in text or "Operation not permitted" in text):
            hint = "; pass sudo=True to run it as root"
        elif "No space left on device" in text or "Disk quota exceeded" in text:
            hint = " (disk full?)"
        return OperationFailed(self.host, self.operation, argument, message + hint, result=result)

    # ------------------------------------------------------------------ reading

    async def probe(
        self, script: str, *, describe: str | None = None, sudo: bool | None = None
    ) -> Result:
        """Run a read-only command (through sudo when the step uses it, unless `sudo` says
        otherwise: queries that need no root) and return its Result."""
        self.probes.append(describe or script)
        as_root = self.sudo if sudo is None else sudo
        return await self.conn.probe(script, sudo=as_root, **QUIET)

    async def path_state(self, path: str, argument: str = "path", **options: Any) -> PathState:
        """Read a path's state in one probe (see `state.state_script` for the options)."""
        result = await self.probe(state_script(path, **options), describe=f"stat {path}")
        try:
            return parse_state(path, result.stdout_bytes)
        except ValueError:
            raise self.failed(result, argument, f"cannot read the state of {path}") from None

    # ------------------------------------------------------------------ changing

    async def change(
        self,
        script: str,
        *,
        argument: str | None = None,
        describe: str | None = None,
        data: bytes | None = None,
        what: str = "the change failed",
        handled: Collection[int] = (),
    ) -> Result | None:
        """Run a changing command; in check mode only record it (and return None).

        `data` is sent on its stdin. A failure raises OperationFailed naming `argument`,
        unless its exit status is one of `handled` (the caller reads the Result then).
        """
        self.commands.append(describe or script)
        if self.check:
            return None
        options: dict[str, Any] = dict(QUIET)
        if data is not None:
            options["in_stream"] = io.BytesIO(data)
        if self.sudo:
            result = await self.conn.sudo(script, **options)
        else:
            result = await self.conn.run(script, **options)
        if not result.ok and result.exited not in handled:
            raise self.failed(result, argument, what)
        return result

    # ------------------------------------------------------------------ reporting

    def done(self, changed: bool, message: str = "", diff: str | None = None) -> OpResult:
        """Report the outcome: return the OpResult, emit it, print its diff, notify."""
        if changed and self.check and message and not message.startswith("would "):
            message = f"would {message}"
        result = OpResult(
            host=self.host,
            operation=self.operation,
            target=self.target,
            changed=changed,
            ok=True,
            message=message,
            diff=diff,
            commands=tuple(self.commands) if changed else (),
            probes=tuple(self.probes),
            checked=self.check,
        )
        self.result = result
        self._emit(result)
        if diff is not None and self.show_diff:
            print(diff if diff.endswith("\n") else diff + "\n", end="", file=sys.stdout, flush=True)
        if changed:
            for handler in self.handlers:
                handler.notify(self.conn, checked=self.check)
        return result

    def dry_run(self) -> OpResult:
        """Report an operation under --dry: nothing connects, so nothing was checked."""
        print(
            f"[{self.host}] {self.operation} {self.target} (not checked: --dry connects "
            "nowhere; --check reads the host and changes nothing)",
            file=sys.stdout,
            flush=True,
        )
        return self.done(False, "not checked under --dry")

    def _emit(self, result: OpResult) -> None:
        bus = self.conn.events
        if bus is None:
            return
        bus.emit(
            OperationResult(
                run_id=self.conn.run_id or "",
                time=time.time(),
                host=result.host,
                operation=f"{result.operation} {result.target}",
                changed=result.changed,
                ok=result.ok,
                message=result.message,
                diff=result.diff,
                commands=result.commands,
            )
        )

    async def __aenter__(self) -> Step:
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: Any, tb: Any) -> None:
        if error is None or not isinstance(error, Exception) or self.result is not None:
            return
        message = str(getattr(error, "detail", "") or error).strip().splitlines()
        failed = OpResult(
            host=self.host,
            operation=self.operation,
            target=self.target,
            changed=bool(self.commands) and not self.check,
            ok=False,
            message=message[0] if message else type(error).__name__,
            commands=tuple(self.commands),
            probes=tuple(self.probes),
            checked=self.check,
        )
        self.result = failed
        self._emit(failed)
