"""`Result`: what a finished command produced (Fabric/Invoke-compatible names)."""

from __future__ import annotations

import codecs
import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

Stream = Literal["stdout", "stderr"]


@dataclass(frozen=True)
class ExitStatus:
    """How a process ended: an exit status, or the signal that killed it."""

    code: int
    signal: str | None = None


@dataclass(frozen=True, eq=False, init=False)
class Result:
    """The outcome of one command: its output, exit status and where it ran.

    Output is kept as the bytes the command wrote; `stdout`/`stderr` decode them with
    `encoding`, replacing undecodable bytes, so odd output never raises. Made by hand (tests,
    mocks) it takes Invoke's keywords too: `Result(stdout="hi\n", exited=1)`.
    """

    command: str = ""
    exited: int = 0
    host: str = "local"
    stdout_bytes: bytes = b""
    stderr_bytes: bytes = b""
    encoding: str = "utf-8"
    connection: Any = None
    hide: tuple[Stream, ...] = ()
    pty: bool = False
    env: dict[str, Any] = field(default_factory=dict)  # values may be Secret (masked)
    #: Name of the signal that killed the command (e.g. "TERM"), if any.
    signal: str | None = None
    #: Seconds from start to exit.
    duration: float = 0.0
    #: True when only the tail of a stream was kept (output also went to a caller's stream).
    stdout_truncated: bool = False
    stderr_truncated: bool = False

    def __init__(
        self,
        command: str = "",
        exited: int = 0,
        host: str = "local",
        stdout_bytes: bytes = b"",
        stderr_bytes: bytes = b"",
        encoding: str | None = "utf-8",
        connection: Any = None,
        hide: tuple[Stream, ...] = (),
        pty: bool = False,
        env: dict[str, Any] | None = None,
        signal: str | None = None,
        duration: float = 0.0,
        stdout_truncated: bool = False,
        stderr_truncated: bool = False,
        *,
        stdout: str | None = None,
        stderr: str | None = None,
        shell: str | None = None,
    ) -> None:
        encoding = encoding or "utf-8"
        if stdout is not None:
            stdout_bytes = stdout.encode(encoding, "surrogateescape")
        if stderr is not None:
            stderr_bytes = stderr.encode(encoding, "surrogateescape")
        values = {
            "command": command,
            "exited": exited,
            "host": host,
            "stdout_bytes": stdout_bytes,
            "stderr_bytes": stderr_bytes,
            "encoding": encoding,
            "connection": connection,
            "hide": tuple(hide),
            "pty": pty,
            "env": {} if env is None else env,
            "signal": signal,
            "duration": duration,
            "stdout_truncated": stdout_truncated,
            "stderr_truncated": stderr_truncated,
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)
        del shell  # Invoke's Result records the local shell; corral's does not

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


#: What a tail of output shows at most: lines, and bytes of one line (the rest is cut).
TAIL_LINES = 20
LINE_LIMIT = 4096


def output_tail(
    data: bytes, encoding: str = "utf-8", *, lines: int = TAIL_LINES, limit: int = LINE_LIMIT
) -> tuple[list[str], int]:
    """Return the last `lines` lines of output, and how many lines came before them.

    A line longer than `limit` bytes is cut there, saying how much was cut. The bytes are
    read from the end: a 30 MB line costs one backward scan, never a decode of it all.
    """
    end = len(data.rstrip(b"\n"))
    if end == 0:
        return [], 0
    pieces: list[bytes] = []
    stop, earlier = end, 0
    while True:
        newline = data.rfind(b"\n", 0, stop)
        pieces.append(data[newline + 1 : stop])
        if newline < 0:
            break
        stop = newline
        if len(pieces) == lines:
            earlier = data.count(b"\n", 0, stop) + 1
            break
    shown: list[str] = []
    for piece in reversed(pieces):
        decoder = codecs.getincrementaldecoder(encoding)(errors="replace")
        text = decoder.decode(piece[:limit], final=len(piece) <= limit)  # no half character
        if len(piece) > limit:
            text += f" ... ({len(piece) - limit:,} more bytes of this line cut)"
        shown += text.splitlines() or [""]
    if len(shown) > lines:
        earlier += len(shown) - lines
        shown = shown[-lines:]
    return shown, earlier


_NUMBERED = re.compile(r"^(.*?)(\d+)(\D*)$")


def compress_hosts(names: Iterable[str]) -> str:
    """Write host names compactly: web01..web03 and web07 become `web[01-03,07]`."""
    families: dict[tuple[str, str, int], list[int]] = {}
    plain: list[str] = []
    for name in names:
        match = _NUMBERED.match(name)
        if match is None:
            plain.append(name)
            continue
        head, digits, tail = match.groups()
        width = len(digits) if digits.startswith("0") else 0
        families.setdefault((head, tail, width), []).append(int(digits))
    parts = list(plain)
    for (head, tail, width), numbers in families.items():
        numbers = sorted(set(numbers))
        if len(numbers) == 1:
            parts.append(f"{head}{numbers[0]:0{width}d}{tail}")
            continue
        runs: list[str] = []
        start = previous = numbers[0]
        for number in [*numbers[1:], None]:
            if number is not None and number == previous + 1:
                previous = number
                continue
            first, last = f"{start:0{width}d}", f"{previous:0{width}d}"
            runs.append(first if start == previous else f"{first}-{last}")
            if number is not None:
                start = previous = number
        parts.append(f"{head}[{','.join(runs)}]{tail}")
    return ",".join(parts)


def _host_of(connection: Any) -> str:
    return str(getattr(connection, "original_host", connection))


class GroupResult(dict[Any, Any]):
    """What a group call did on every host: Connection -> Result (or a task's return value)
    or the exception it raised.

    Every host of the group is a key, whatever happened to it: hosts never started (rolling
    limits, Ctrl-C) map to a `corral.errors.HostSkipped`.
    """

    def __init__(self, *args: Any, duration: float = 0.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.duration = duration
        #: Seconds each host took (set by the group engine).
        self.durations: dict[Any, float] = {}

    @property
    def succeeded(self) -> dict[Any, Any]:
        """Hosts that did not raise: their Result (with warn=True, non-zero exits too), or
        the value a task returned."""
        return {c: v for c, v in self.items() if not isinstance(v, BaseException)}

    @property
    def failed(self) -> dict[Any, BaseException]:
        """Hosts that raised (command failure, connection error, timeout); not skipped or
        interrupted ones."""
        return {
            c: v
            for c, v in self.items()
            if isinstance(v, BaseException)
            and not getattr(v, "skipped", False)
            and not getattr(v, "interrupted", False)
        }

    @property
    def skipped(self) -> dict[Any, BaseException]:
        """Hosts that were never started, with the reason."""
        return {
            c: v
            for c, v in self.items()
            if isinstance(v, BaseException) and getattr(v, "skipped", False)
        }

    @property
    def interrupted(self) -> dict[Any, BaseException]:
        """Hosts whose command was running when the run was interrupted (and was stopped)."""
        return {
            c: v
            for c, v in self.items()
            if isinstance(v, BaseException) and getattr(v, "interrupted", False)
        }

    def records(self) -> list[dict[str, Any]]:
        """Return one plain dict per host (for JSON): host, ok, exited, stdout, stderr, ...

        `skipped` marks hosts never started, `interrupted` hosts whose command was stopped.
        """
        out = []
        for connection, value in self.items():
            failed = isinstance(value, BaseException)
            result = value if isinstance(value, Result) else getattr(value, "result", None)
            result = result if isinstance(result, Result) else None
            skipped = bool(getattr(value, "skipped", False))
            duration = self.durations.get(connection)
            if duration is None and result is not None:
                duration = result.duration
            out.append(
                {
                    "host": _host_of(connection),
                    "ok": not failed and (result is None or result.ok),
                    "exited": result.exited if result is not None else None,
                    "stdout": result.stdout if result is not None else "",
                    "stderr": result.stderr if result is not None else "",
                    "duration": round(duration, 3) if duration is not None else None,
                    "error": str(value) if failed else None,
                    "error_type": type(value).__name__ if failed else None,
                    "skipped": skipped,
                    "interrupted": bool(getattr(value, "interrupted", False)),
                }
            )
        return out

    def output_groups(self) -> list[tuple[list[str], Result]]:
        """Group hosts whose stdout is identical: [(host names, one of their Results)],
        biggest group first. Outputs are compared by digest, never decoded."""
        groups: dict[bytes, tuple[list[str], Result]] = {}
        for connection, value in self.items():
            if isinstance(value, Result):
                digest = hashlib.blake2b(value.stdout_bytes, digest_size=32)
                digest.update(value.encoding.encode())
                hosts, _ = groups.setdefault(digest.digest(), ([], value))
                hosts.append(_host_of(connection))
        return sorted(groups.values(), key=lambda group: -len(group[0]))

    def grouped_output(self) -> list[tuple[list[str], str]]:
        """Group hosts whose stdout is identical: [(host names, output)], biggest group first."""
        return [(hosts, result.stdout) for hosts, result in self.output_groups()]

    def summary(self) -> str:
        """Return a readable per-host summary: counts, then each failed and skipped host."""
        ok = sum(
            1
            for v in self.values()
            if not isinstance(v, BaseException) and (not isinstance(v, Result) or v.ok)
        )
        warned = sum(1 for v in self.values() if isinstance(v, Result) and not v.ok)
        failed, skipped, interrupted = self.failed, self.skipped, self.interrupted
        counts = [f"{ok} ok"]
        if warned:
            counts.append(f"{warned} exited non-zero (warn)")
        counts.append(f"{len(failed)} failed")
        if interrupted:
            counts.append(f"{len(interrupted)} interrupted")
        counts.append(f"{len(skipped)} skipped")
        lines = [f"{len(self)} hosts: {', '.join(counts)} in {self.duration:.1f} s"]
        if failed:
            lines.append("failed:")
            lines += [f"  {_host_of(c)}: {_one_line(e)}" for c, e in failed.items()]
        for heading, hosts in (("interrupted:", interrupted), ("skipped:", skipped)):
            if hosts:
                reasons: dict[str, list[str]] = {}
                for c, e in hosts.items():
                    reasons.setdefault(str(getattr(e, "reason", e)), []).append(_host_of(c))
                lines.append(heading)
                lines += [f"  {compress_hosts(h)} ({len(h)}): {r}" for r, h in reasons.items()]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<GroupResult {self.summary().splitlines()[0]}>"


def _one_line(error: BaseException) -> str:
    """The first line of an error's message, without its host prefix."""
    text = str(getattr(error, "reason", "") or error).splitlines()
    return text[0] if text else type(error).__name__
