"""`PrefixedStream`: one host's output as whole lines, each prefixed `[host] `.

Many hosts write to one terminal from one event loop: a line is written only once it is
complete, so lines from different hosts never interleave. On a terminal the prefix is
coloured per host and control characters from the remote side are escaped (an ESC in
output could otherwise move the cursor or retitle the window).
"""

from __future__ import annotations

import re
import sys
import zlib
from typing import IO, Any, cast

from .output import OutputRoute

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
        self._partial = ""

    def write(self, text: str) -> int:
        """Buffer text; write every complete line."""
        data = self._partial + text
        *lines, self._partial = data.split("\n")
        if lines:
            self._emit(lines)
        return len(text)

    def _emit(self, lines: list[str]) -> None:
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
            partial, self._partial = self._partial, ""
            self._emit([partial])

    def isatty(self) -> bool:
        """Report the target's terminal-ness (prefixed output is not itself a terminal)."""
        return False


def host_lines(host: str) -> OutputRoute:
    """Return the route that writes a host's output to this terminal as `[host] ` lines."""
    return OutputRoute(
        cast(IO[str], PrefixedStream(host, sys.stdout)),
        cast(IO[str], PrefixedStream(host, sys.stderr)),
    )
