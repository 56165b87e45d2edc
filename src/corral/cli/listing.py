"""`corral --list`: the tasks of a collection, flat, nested or as JSON.

The rows are written by click's `write_dl`, as `corral --help` writes its task section
(`write_rows`): one renderer for both.
"""

from __future__ import annotations

import json
from typing import Literal

import click

from ..tasks.collection import Collection

ListFormat = Literal["flat", "nested", "json"]
#: Widest first column before a summary moves to the next line, and the gap after it.
LABEL_WIDTH = 40
GAP = 4


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
    formatter = click.HelpFormatter(max_width=100)
    with formatter.indentation():
        write_rows(formatter, rows)
    text = f"{title}:\n\n{formatter.getvalue()}"
    if collection.default:
        text += f"\nDefault task: {collection.default}\n"
    return text.rstrip("\n")


def namespace(collection: Collection, name: str) -> Collection:
    """Return the collection a dotted namespace (`db.backup`) names; "" is the root."""
    for part in name.split(".") if name else []:
        if part not in collection.collections:
            raise click.UsageError(f"no collection named {name!r}")
        collection = collection.collections[part]
    return collection


def write_rows(formatter: click.HelpFormatter, rows: list[tuple[str, str]]) -> None:
    """Write task rows (name, summary) as a two-column list: `--list` and `--help` alike."""
    formatter.write_dl(rows, col_max=LABEL_WIDTH, col_spacing=GAP)


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
