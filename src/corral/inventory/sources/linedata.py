"""The data YAML inventories are read into: dicts and lists that know the line of each key
and item (lines.py reads them with PyYAML, plainyaml.py with its fast reader)."""

from __future__ import annotations

from typing import Any


class LineDict(dict[Any, Any]):
    """A dict from YAML that knows its line and each key's line (1-based)."""

    line: int | None = None
    lines: dict[Any, int]

    def line_of(self, key: Any) -> int | None:
        """Return the line a key was written on (or the mapping's own line)."""
        lines = getattr(self, "lines", None)
        return lines.get(key, self.line) if lines else self.line


class LineList(list[Any]):
    """A list from YAML that knows the line of each item (1-based)."""

    line: int | None = None
    lines: list[int]

    def line_of(self, index: int) -> int | None:
        """Return the line item `index` was written on (or the list's own line)."""
        lines = getattr(self, "lines", None)
        return lines[index] if lines and index < len(lines) else self.line
