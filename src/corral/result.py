"""`Result`: what a finished command produced (Fabric/Invoke-compatible names)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

Stream = Literal["stdout", "stderr"]


@dataclass(frozen=True, eq=False)
class Result:
    """The outcome of one command: its output, exit status and where it ran.

    Output is kept as the bytes the command wrote; `stdout`/`stderr` decode them with
    `encoding`, replacing undecodable bytes, so odd output never raises.
    """

    command: str
    exited: int
    host: str = "local"
    stdout_bytes: bytes = b""
    stderr_bytes: bytes = b""
    encoding: str = "utf-8"
    connection: Any = None
    hide: tuple[Stream, ...] = ()
    pty: bool = False
    env: dict[str, str] = field(default_factory=dict)
    #: Name of the signal that killed the command (e.g. "TERM"), if any.
    signal: str | None = None
    #: Seconds from start to exit.
    duration: float = 0.0
    #: True when only the tail of a stream was kept (output also went to a caller's stream).
    stdout_truncated: bool = False
    stderr_truncated: bool = False

    @cached_property
    def stdout(self) -> str:
        """Standard output, decoded."""
        return self.stdout_bytes.decode(self.encoding, errors="replace")

    @cached_property
    def stderr(self) -> str:
        """Standard error, decoded."""
        return self.stderr_bytes.decode(self.encoding, errors="replace")

    @property
    def return_code(self) -> int:
        """The exit status (an alias of `exited`)."""
        return self.exited

    @property
    def ok(self) -> bool:
        """True when the command exited with status 0."""
        return self.exited == 0 and self.signal is None

    @property
    def failed(self) -> bool:
        """True when the command did not exit with status 0."""
        return not self.ok

    def tail(self, stream: Stream, count: int = 10) -> str:
        """Return the last `count` lines of a stream."""
        text: str = getattr(self, stream)
        return "\n".join(text.rstrip("\n").splitlines()[-count:])

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        status = f"signal {self.signal}" if self.signal else f"exit code {self.exited}"
        parts = [f"Command {self.command!r} on {self.host} exited with {status}."]
        for name in ("stdout", "stderr"):
            text = getattr(self, name)
            parts.append(f"=== {name} ===\n{text}" if text else f"(no {name})")
        return "\n".join(parts)

    def __repr__(self) -> str:
        return f"<Result host={self.host!r} command={self.command!r} exited={self.exited}>"


@dataclass(frozen=True)
class TransferResult:
    """What a put or get did: both ends as given and as resolved, and what changed.

    `local` is the absolute local path, or the file-like object used instead; `remote` is
    the absolute remote path. `bytes` counts what crossed the network and `files` the regular
    files written (several for a recursive transfer).
    """

    local: Any
    orig_local: Any
    remote: str
    orig_remote: str | None
    connection: Any = None
    host: str = ""
    #: False when nothing was written (`only_changed` found the target up to date).
    changed: bool = True
    bytes: int = 0
    files: int = 0

    def __repr__(self) -> str:
        return (
            f"<TransferResult host={self.host!r} local={self.local!r} remote={self.remote!r} "
            f"changed={self.changed}>"
        )


@dataclass(frozen=True, eq=False)
class RsyncResult:
    """What one rsync run did: the paths it changed on the receiving side, and its output.

    `changed` lists every path sent, created or deleted (as rsync names them, relative to
    the transfer's root; directories end in "/"); `deleted` the deleted ones among them.
    """

    source: str
    target: str
    connection: Any
    host: str
    #: The rsync argv as run; it holds no secret (rsync's ssh never gets a password).
    command: list[str]
    changed: list[str]
    deleted: list[str]
    exited: int
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        """True when rsync exited with status 0."""
        return self.exited == 0

    def __repr__(self) -> str:
        return (
            f"<RsyncResult host={self.host!r} source={self.source!r} target={self.target!r} "
            f"changed={len(self.changed)} exited={self.exited}>"
        )
