"""Editing a file's text in place, as Ansible's lineinfile and blockinfile do. Pure.

Text is handled as lines with their endings; bytes that are not UTF-8 survive unchanged
(surrogateescape). A line appended to a file that does not end in a newline gets one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

State = Literal["present", "absent"]
#: The anchors that mean the ends of the file (Ansible's insertafter=EOF, insertbefore=BOF).
EOF_ANCHOR = "EOF"
BOF_ANCHOR = "BOF"


@dataclass(frozen=True)
class Edit:
    """What an edit made of a file: its new bytes and a few words on what changed."""

    content: bytes
    message: str

    def changed(self, before: bytes) -> bool:
        """True when the content differs from `before`."""
        return self.content != before


def _lines(data: bytes) -> list[str]:
    return data.decode("utf-8", "surrogateescape").splitlines(keepends=True)


def _join(lines: list[str]) -> bytes:
    return "".join(lines).encode("utf-8", "surrogateescape")


def _bare(line: str) -> str:
    return line.rstrip("\r\n")


def _newline(lines: list[str]) -> str:
    """The file's own line ending (\\r\\n if its first line has one, else \\n)."""
    return "\r\n" if lines and lines[0].endswith("\r\n") else "\n"


def _insert_at(lines: list[str], after: str | None, before: str | None, first: bool) -> int:
    """Return where a new line goes: after the last (or first) line matching `after`,
    before the one matching `before`, at the top for BOF, else at the end."""
    if before is not None:
        if before == BOF_ANCHOR:
            return 0
        found = [i for i, line in enumerate(lines) if re.search(before, _bare(line))]
        if found:
            return found[0] if first else found[-1]
        return len(lines)
    if after is not None and after != EOF_ANCHOR:
        found = [i for i, line in enumerate(lines) if re.search(after, _bare(line))]
        if found:
            return (found[0] if first else found[-1]) + 1
    return len(lines)


def _insert(lines: list[str], index: int, new: list[str]) -> list[str]:
    """Insert lines, giving the line before them a newline if it lacks one."""
    out = list(lines)
    if index > 0 and not out[index - 1].endswith("\n"):
        out[index - 1] += _newline(out)
    return out[:index] + new + out[index:]


def edit_line(
    data: bytes,
    line: str | None,
    *,
    state: State = "present",
    regexp: str | None = None,
    after: str | None = None,
    before: str | None = None,
    firstmatch: bool = False,
) -> Edit:
    """Make sure a line is present (or absent) in `data`, as Ansible's lineinfile does.

    present: the last line matching `regexp` (the first with `firstmatch`) becomes `line`;
    with no match, and `line` not already there, `line` is inserted after the last line
    matching `after` (or before the one matching `before`; BOF, EOF), else at the end.
    absent: every line matching `regexp` (or equal to `line`) is removed.
    """
    lines = _lines(data)
    if state == "absent":
        if regexp is not None:
            kept = [x for x in lines if not re.search(regexp, _bare(x))]
        else:
            kept = [x for x in lines if _bare(x) != line]
        removed = len(lines) - len(kept)
        if not removed:
            return Edit(data, "")
        return Edit(_join(kept), f"remove {removed} line{'s' if removed != 1 else ''}")
    assert line is not None
    ending = _newline(lines)
    if regexp is not None:
        matches = [i for i, x in enumerate(lines) if re.search(regexp, _bare(x))]
        if matches:
            index = matches[0] if firstmatch else matches[-1]
            if _bare(lines[index]) == line:
                return Edit(data, "")
            old = lines[index]
            tail = old[len(_bare(old)) :] or ("" if index == len(lines) - 1 else ending)
            out = [*lines[:index], line + tail, *lines[index + 1 :]]
            return Edit(_join(out), f"replace line {index + 1}")
    if any(_bare(x) == line for x in lines):
        return Edit(data, "")
    index = _insert_at(lines, after, before, firstmatch)
    out = _insert(lines, index, [line + ending])
    return Edit(_join(out), f"insert line {index + 1}")


def block_markers(marker: str, begin: str = "BEGIN", end: str = "END") -> tuple[str, str]:
    """Return the begin and end marker lines of a block (`# {mark} CORRAL MANAGED BLOCK`)."""
    return marker.replace("{mark}", begin), marker.replace("{mark}", end)


def edit_block(
    data: bytes,
    block: str,
    *,
    state: State = "present",
    marker: str = "# {mark} CORRAL MANAGED BLOCK",
    after: str | None = None,
    before: str | None = None,
) -> Edit:
    """Make sure a block of lines between two marker lines is present (or absent).

    An existing block (found by its markers) is replaced in place; a new one goes after the
    last line matching `after` (or before `before`; BOF, EOF), else at the end. An empty
    block is the same as state="absent", as in Ansible's blockinfile.
    """
    lines = _lines(data)
    ending = _newline(lines)
    first, last = block_markers(marker)
    starts = [i for i, x in enumerate(lines) if _bare(x) == first]
    ends = [i for i, x in enumerate(lines) if _bare(x) == last]
    found = None
    if starts and ends:
        start = starts[-1] if starts[-1] < ends[-1] else starts[0]
        stop = next((i for i in ends if i > start), None)
        if stop is not None:
            found = (start, stop)
    body = block.splitlines()
    if state == "absent" or not body:
        if found is None:
            return Edit(data, "")
        out = lines[: found[0]] + lines[found[1] + 1 :]
        return Edit(_join(out), "remove block")
    new = [first + ending, *(x + ending for x in body), last + ending]
    if found is not None:
        current = lines[found[0] : found[1] + 1]
        if [_bare(x) for x in current] == [_bare(x) for x in new]:
            return Edit(data, "")
        if found[1] == len(lines) - 1 and not lines[-1].endswith("\n"):
            new[-1] = last
        out = lines[: found[0]] + new + lines[found[1] + 1 :]
        return Edit(_join(out), "update block")
    index = _insert_at(lines, after, before, False)
    return Edit(_join(_insert(lines, index, new)), "insert block")
