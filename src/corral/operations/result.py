"""`OpResult`: what one operation did on one host (or, in check mode, would do)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OpResult:
    """The outcome of an operation on one host: changed or not, and how.

    `commands` are the changing commands it ran (in check mode: would run; none when
    nothing needed changing); `probes` the read-only commands that read the host's state.
    """

    host: str
    #: The operation's name: `file`, `package`, `service`, ...
    operation: str
    #: What it manages: a path, package names, a service, a user, ...
    target: str
    changed: bool
    ok: bool = True
    message: str = ""
    #: A unified diff of the file it changed (or would), secrets masked; None when no file
    #: content changed.
    diff: str | None = None
    commands: tuple[str, ...] = ()
    probes: tuple[str, ...] = ()
    #: True when run in check mode: nothing was changed, `changed` says what would be.
    checked: bool = False

    @property
    def failed(self) -> bool:
        """True when the operation did not reach its state."""
        return not self.ok

    def __str__(self) -> str:
        if not self.ok:
            state = "failed"
        elif self.changed:
            state = "would change" if self.checked else "changed"
        else:
            state = "ok"
        message = self.message
        if self.checked and message.startswith("would "):
            message = message.removeprefix("would ")
        detail = f" ({message})" if message else ""
        return f"{self.host}: {self.operation} {self.target}: {state}{detail}"
