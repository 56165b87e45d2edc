"""Host ranges, Ansible's syntax: `web[01:50]`, `db-[a:c]`, `node[0:20:5]`, several per name.

A numeric range keeps the zero padding of its bounds (`[01:10]` gives 01 ... 10); letters run
through a-z then A-Z, as in Ansible. Ranges that expand to nothing, or to more than
MAX_HOSTS names, are refused: neither is ever what the author meant.
"""

from __future__ import annotations

import itertools
import re
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..errors import InventoryError

#: The most names one range expression may expand to.
MAX_HOSTS = 100_000

_RANGE = re.compile(r"\[([^\[\]]*)\]")


def has_range(text: str) -> bool:
    """True when `text` holds a `[a:b]` range."""
    return "[" in text or "]" in text


@dataclass(frozen=True)
class _Where:
    """Where a range was written, for errors."""

    pattern: str
    source: str | None
    line: int | None

    def error(self, message: str) -> InventoryError:
        return InventoryError(
            message, source=self.source, line=self.line, entry=f"host {self.pattern!r}"
        )


class _Padded(Sequence[str]):
    """The numbers of a range as text, zero-padded to `width`, made on demand."""

    def __init__(self, numbers: range, width: int) -> None:
        self._numbers = numbers
        self._width = width

    def __len__(self) -> int:
        return len(self._numbers)

    def __getitem__(self, index: int) -> str:  # type: ignore[override]
        return str(self._numbers[index]).zfill(self._width)

    def __iter__(self) -> Iterator[str]:
        width = self._width
        return (str(n).zfill(width) for n in self._numbers)


def _values(spec: str, where: _Where) -> Sequence[str]:
    """Return the values of one `begin:end[:step]` range spec."""
    bounds = spec.split(":")
    if len(bounds) not in (2, 3):
        raise where.error(f"range [{spec}] must be [begin:end] or [begin:end:step]")
    begin, end = bounds[0].strip() or "0", bounds[1].strip()
    step_text = bounds[2].strip() if len(bounds) == 3 else "1"
    if not end:
        raise where.error(f"range [{spec}] has no end")
    if not step_text.isdigit() or int(step_text) < 1:
        raise where.error(f"range [{spec}]: the step must be a whole number >= 1")
    step = int(step_text)
    letters = string.ascii_letters
    values: Sequence[str]
    if len(begin) == 1 and len(end) == 1 and begin in letters and end in letters:
        values = letters[letters.index(begin) : letters.index(end) + 1 : step]
    elif begin.isdigit() and end.isdigit():
        width = len(begin) if begin.startswith("0") and len(begin) > 1 else 0
        if width and len(end) != width:
            raise where.error(
                f"range [{spec}]: zero-padded bounds need the same width "
                f"({begin!r} has {width} digits, {end!r} has {len(end)})"
            )
        values = _Padded(range(int(begin), int(end) + 1, step), width)
    else:
        raise where.error(f"range [{spec}]: the bounds must be two numbers or two letters")
    if len(values) == 0:
        raise where.error(f"range [{spec}] is empty: its begin comes after its end")
    return values


def _parts(where: _Where) -> list[Sequence[str]]:
    """Split a pattern into literal pieces and the values of its ranges."""
    pattern = where.pattern
    parts: list[Sequence[str]] = []
    position = 0
    for match in _RANGE.finditer(pattern):
        parts.append((pattern[position : match.start()],))
        parts.append(_values(match.group(1), where))
        position = match.end()
    rest = pattern[position:]
    if "[" in rest or "]" in rest or any("]" in p or "[" in p for p in parts[::2]):
        raise where.error("unbalanced [ ] in a host range")
    parts.append((rest,))
    return parts


def count_range(pattern: str, *, source: str | None = None, line: int | None = None) -> int:
    """Return how many names `pattern` expands to, without making them."""
    total = 1
    for part in _parts(_Where(pattern, source, line)):
        total *= len(part)
    return total


def expand_range(
    pattern: str,
    *,
    source: str | None = None,
    line: int | None = None,
    limit: int = MAX_HOSTS,
) -> list[str]:
    """Return the names a range expression stands for, in order (a plain name: itself).

    Raises InventoryError, naming `source`:`line` and the pattern, for a malformed or empty
    range, or one of more than `limit` names.
    """
    if not has_range(pattern):
        return [pattern]
    parts = _parts(_Where(pattern, source, line))
    total = 1
    for part in parts:
        total *= len(part)
    if total > limit:
        raise InventoryError(
            f"range expands to {total:,} hosts, more than the limit of {limit:,}; "
            "split it, or check its bounds",
            source=source,
            line=line,
            entry=f"host {pattern!r}",
        )
    return ["".join(names) for names in itertools.product(*parts)]
