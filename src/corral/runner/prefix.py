"""`PrefixedStream`: one host's output as whole lines, each prefixed `[host] `.

Many hosts write to one terminal from one event loop: a line is written only once it is
complete, so lines from different hosts never interleave. A line longer than `FOLD` is
written in pieces of that size (folded), as it arrives: one huge line is neither held whole
nor re-scanned on every write. On a terminal the prefix is coloured per host and control
characters from the remote side are escaped (an ESC in output could otherwise move the
cursor or retitle the window).
"""

from __future__ import annotations

import re
import sys
import zlib
from typing import IO, Any, cast

from .output import OutputListener, OutputRoute

#: Characters of one unfinished line held back at most; past this it is written (folded).
FOLD = 64 * 1024
_COLOURS = (31, 32, 33, 34, 35, 36, 91, 92, 93, 94, 95, 96)
# C0 controls but \t and \n, DEL, and C1 controls
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def escape_controls(text: str) -> str:
    """Make control characters visible (`\\x1b` for ESC) so they cannot drive a terminal."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def is_terminal(stream: IO[Any]) -> bool:
    """True when `stream` is an interactive terminal."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


class PrefixedStream:
    """A text stream that writes whole lines to `target`, each prefixed with the host."""

    def __init__(self, host: str, target: IO[str], *, colour: bool | None = None) -> None:
        self._target = target
        self._tty = is_terminal(target) if colour is None else colour
        prefix = f"[{escape_controls(host)}] "
        if self._tty:
            code = _COLOURS[zlib.crc32(host.encode()) % len(_COLOURS)]
            prefix = f"\x1b[{code}m{prefix}\x1b[0m"
        self._prefix = prefix
        self._partial: list[str] = []  # the unfinished line, in the pieces it came in
        self._held = 0  # its length

    def write(self, text: str) -> int:
        """Buffer text; write every complete line, and fold an unfinished one past FOLD."""
        *lines, rest = text.split("\n")
        if lines:
            lines[0] = "".join([*self._partial, lines[0]])
            self._partial, self._held = [], 0
        if rest:
            self._partial.append(rest)
            self._held += len(rest)
            if self._held >= FOLD:
                held = "".join(self._partial)
                cut = len(held) - len(held) % FOLD
                lines.append(held[:cut])
                self._partial = [held[cut:]] if cut < len(held) else []
                self._held = len(held) - cut
        if lines:
            self._emit(lines)
        return len(text)

    def _emit(self, lines: list[str]) -> None:
        lines = [line[i : i + FOLD] for line in lines for i in range(0, len(line) or 1, FOLD)]
        if self._tty:
            lines = [escape_controls(line.rstrip("\r")) for line in lines]
        try:
            self._target.write("".join(f"{self._prefix}{line}\n" for line in lines))
            self._target.flush()
        except (OSError, ValueError):
            pass

    def flush(self) -> None:
        """Nothing to do: partial lines wait for their end (see `close`)."""

    def close(self) -> None:
        """Write a final partial line, if any."""
        if self._partial:
            partial, self._partial, self._held = "".join(self._partial), [], 0
            self._emit([partial])

    def isatty(self) -> bool:
        """Report the target's terminal-ness (prefixed output is not itself a terminal)."""
        return False


def host_lines(host: str, listener: OutputListener | None = None) -> OutputRoute:
    """Return the route that writes a host's output to this terminal as `[host] ` lines
    (and hands it to `listener`, if given: a recorded run's output events)."""
    return OutputRoute(
        cast(IO[str], PrefixedStream(host, sys.stdout)),
        cast(IO[str], PrefixedStream(host, sys.stderr)),
        listener,
    )
