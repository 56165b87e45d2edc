"""`corral --list`: the tasks of a collection, flat, nested or as JSON."""

from __future__ import annotations

import json
import shutil
import textwrap
from typing import Literal

from ..tasks.collection import Collection

ListFormat = Literal["flat", "nested", "json"]


def render_list(collection: Collection, fmt: ListFormat = "flat", source: str | None = None) -> str:
    """Return the listing of a collection's tasks in the given format."""
    if fmt == "json":
        return json.dumps(collection.serialized(), indent=2)
    rows = flat_rows(collection) if fmt == "flat" else _nested_rows(collection, "")
    where = f" ({source})" if source else ""
    if not rows:
        return f"No tasks{where}."
    title = "Available tasks" + where
    if fmt == "nested":
        title += " ('*' marks a collection's default)"
    lines = [title + ":", ""]
    lines += _table(rows)
    if collection.default:
        lines += ["", f"Default task: {collection.default}"]
    return "\n".join(lines)


def flat_rows(collection: Collection) -> list[tuple[str, str]]:
    """Return (name with aliases, summary) for every task, sorted by name."""
    rows = []
    for name, aliases in sorted(collection.task_names().items()):
        label = f"{name} ({', '.join(aliases)})" if aliases else name
        rows.append((label, collection[name].summary))
    return rows


def _nested_rows(collection: Collection, indent: str) -> list[tuple[str, str]]:
    rows = []
    dot = "." if indent else ""
    for name, task in sorted(collection.tasks.items()):
        star = "*" if collection.default == name else ""
        rows.append((f"{indent}{dot}{name}{star}", task.summary))
    for name, sub in sorted(collection.collections.items()):
        rows.append((f"{indent}{dot}{name}", sub.help or ""))
        rows += _nested_rows(sub, indent + "  ")
    return rows


def _table(rows: list[tuple[str, str]]) -> list[str]:
    width = min(max(len(label) for label, _ in rows), 40)
    total = shutil.get_terminal_size((100, 24)).columns
    lines = []
    for label, text in rows:
        if not text:
            lines.append(f"  {label}")
            continue
        wrapped = textwrap.wrap(text, max(total - width - 6, 30)) or [""]
        pad = " " * (width - len(label)) if len(label) <= width else ""
        first = f"  {label}{pad}    {wrapped[0]}"
        lines.append(first.rstrip())
        lines += [" " * (width + 6) + more for more in wrapped[1:]]
    return lines
