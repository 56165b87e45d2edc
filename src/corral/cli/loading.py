"""Finding and importing the corralfile, and pointing at the line where it failed."""

from __future__ import annotations

import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ..errors import CorralError, CorralfileError
from ..tasks.collection import Collection
from ..tasks.loader import find_collection, load_collection

#: Where the root context keeps the loaded corralfile (or why it did not load), once per run.
_LOADED = "corral.loaded"


@dataclass(frozen=True)
class Loaded:
    """The collection the command line runs, and the file it came from."""

    collection: Collection
    path: Path


def load(params: dict[str, Any]) -> Loaded:
    """Find and import the corralfile that `-r`/`-c` (or the current directory) point at.

    Raises CollectionNotFound, or CorralfileError (chained to what the corralfile raised).
    """
    start = Path(params.get("search_root") or os.getcwd())
    path = find_collection(start, params.get("collection"))
    try:
        return Loaded(load_collection(path), path)
    except Exception as exc:
        raise CorralfileError(where_it_failed(exc, path)) from exc


def loaded(ctx: click.Context) -> Loaded | CorralError:
    """Return the corralfile's collection, or why it could not be loaded (once per run).

    The error is raised where it matters (`required`), not for `--help` or completion.
    """
    root = ctx.find_root()
    if _LOADED not in root.meta:
        try:
            root.meta[_LOADED] = load(root.params)
        except CorralError as exc:
            root.meta[_LOADED] = exc
    found: Loaded | CorralError = root.meta[_LOADED]
    return found


def required(ctx: click.Context, *, strict: bool = True) -> Loaded | None:
    """Return the corralfile's collection; without one, raise (or, not strict, None)."""
    found = loaded(ctx)
    if isinstance(found, CorralError):
        if strict and not ctx.resilient_parsing:
            raise found
        return None
    return found


def where_it_failed(exc: BaseException, path: Path) -> str:
    """Return "error loading FILE, line N: Error: message" for what a corralfile raised."""
    filename, line = str(path), None
    if isinstance(exc, SyntaxError) and exc.filename:
        filename, line = exc.filename, exc.lineno
    else:
        directory = str(path.parent if path.is_file() else path)
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            if frame.filename.startswith(directory):
                filename, line = frame.filename, frame.lineno
                break
    at = f"{filename}, line {line}" if line else filename
    text = str(exc.msg if isinstance(exc, SyntaxError) else exc)
    return f"error loading {at}: {type(exc).__name__}: {text} (--debug shows the traceback)"
