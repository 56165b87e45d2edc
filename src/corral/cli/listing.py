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


def render_list(
    collection: Collection,
    fmt: ListFormat = "flat",
    source: str | None = None,
    depth: int | None = None,
) -> str:
    """Return the listing of a collection's tasks in the given format; with `depth`, only the
    first `depth` levels of namespaces (deeper ones summed up: `db [2 tasks]`)."""
    if fmt == "json":
        if depth:
            raise click.UsageError("--list-depth cannot be combined with --list-format json")
        return json.dumps(collection.serialized(), indent=2)
    if fmt == "flat":
        rows = flat_rows(collection) if not depth else _flat_rows_to(collection, depth, "")
    else:
        rows = _nested_rows(collection, "", depth)
    where = f" ({source})" if source else ""
    if not rows:
        return f"No tasks{where}."
    title = "Available tasks" + where
    if depth:
        title += f" (depth={depth})"
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


def _tally(collection: Collection) -> str:
    """`[2 tasks, 1 collections]`: what a namespace below the listed depth holds."""
    counts = [
        f"{len(items)} {kind}"
        for kind, items in (("tasks", collection.tasks), ("collections", collection.collections))
        if items
    ]
    return f" [{', '.join(counts)}]"


def _flat_rows_to(collection: Collection, depth: int, prefix: str) -> list[tuple[str, str]]:
    """Flat rows of the first `depth` levels; each deeper namespace as one summed-up row."""
    rows = []
    for name in sorted(collection.tasks):
        aliases = collection.aliases_of(name)
        label = f"{prefix}{name}" + (
            f" ({', '.join(prefix + a for a in aliases)})" if aliases else ""
        )
        rows.append((label, collection.tasks[name].summary))
    level = prefix.count(".") + 1
    for name, sub in sorted(collection.collections.items()):
        if level >= depth:
            rows.append((f"{prefix}{name}{_tally(sub)}", sub.help or ""))
        else:
            rows += _flat_rows_to(sub, depth, f"{prefix}{name}.")
    return rows


def _nested_rows(
    collection: Collection, indent: str, depth: int | None = None, level: int = 1
) -> list[tuple[str, str]]:
    rows = []
    dot = "." if indent else ""
    for name, task in sorted(collection.tasks.items()):
        star = "*" if collection.default == name else ""
        rows.append((f"{indent}{dot}{name}{star}", task.summary))
    for name, sub in sorted(collection.collections.items()):
        if depth is not None and level >= depth:
            rows.append((f"{indent}{dot}{name}{_tally(sub)}", sub.help or ""))
            continue
        rows.append((f"{indent}{dot}{name}", sub.help or ""))
        rows += _nested_rows(sub, indent + "  ", depth, level + 1)
    return rows
