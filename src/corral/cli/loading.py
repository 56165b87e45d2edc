"""Finding and importing the corralfile, and pointing at the line where it failed."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from ..compat.shims import stand_ins
from ..errors import CorralError, CorralfileError
from ..tasks.collection import Collection
from ..tasks.loader import find_collection, is_fabfile, load_collection

#: Where the root context keeps the loaded corralfile (or why it did not load), once per run.
_LOADED = "corral.loaded"


@dataclass(frozen=True)
class Loaded:
    """The collection the command line runs, the file it came from (None for a program's
    own collection), and whether it is a fabfile (Fabric's stand-ins and config apply)."""

    collection: Collection
    path: Path | None
    fabric: bool = False


def find(params: dict[str, Any]) -> Path:
    """Return the corralfile that `-r`/`-c` (or the current directory) point at."""
    start = Path(params.get("search_root") or os.getcwd())
    return find_collection(start, params.get("collection"))


def load(params: dict[str, Any], stack: contextlib.ExitStack | None = None) -> Loaded:
    """Find and import the corralfile that `-r`/`-c` (or the current directory) point at.

    A fabfile is imported with corral standing in for fabric, invoke and patchwork where
    they are not installed; the stand-ins stay until `stack` closes (the end of the run).
    Raises CollectionNotFound, or CorralfileError (chained to what the corralfile raised).
    """
    path = find(params)
    fabric = is_fabfile(path)
    stood_in: list[str] = []
    if fabric and stack is not None:
        stood_in = stack.enter_context(stand_ins())
    try:
        collection = load_collection(path, write_pyc=bool(params.get("write_pyc")))
    except Exception as exc:
        raise CorralfileError(where_it_failed(exc, path)) from exc
    if fabric:
        _warn_if_real(path, stood_in)
    return Loaded(collection, path, fabric)


def _warn_if_real(path: Path, stood_in: list[str]) -> None:
    """Say so when a fabfile imported the real Fabric or Invoke (installed here): corral runs
    its tasks, but what it makes with them is theirs (their exception classes catch nothing
    corral raises)."""
    real = [
        name
        for name in ("fabric", "invoke")
        if name not in stood_in and name in sys.modules and _imports(path, name)
    ]
    if real:
        click.echo(
            f"corral: note: {' and '.join(real)} {'is' if len(real) == 1 else 'are'} installed "
            f"here, so {path.name} uses {'it' if len(real) == 1 else 'them'}, not corral: their "
            "exception classes do not catch corral's errors; switch the imports to corral's "
            "(corral --doctor)",
            err=True,
        )


def _imports(path: Path, name: str) -> bool:
    """True when the fabfile's text imports `name` (a quick look, not a parse)."""
    files = path.rglob("*.py") if path.is_dir() else [path]
    pattern = re.compile(rf"^\s*(from|import)\s+{name}\b", re.M)
    return any(pattern.search(f.read_text(errors="replace")) for f in files)


def loaded(ctx: click.Context) -> Loaded | CorralError:
    """Return the corralfile's collection, or why it could not be loaded (once per run).

    The error is raised where it matters (`required`), not for `--help` or completion. A
    program's own collection (`Program(namespace=...)`) is used as it is.
    """
    root = ctx.find_root()
    if _LOADED not in root.meta:
        namespace = getattr(root.command, "namespace", None)
        if namespace is not None:
            root.meta[_LOADED] = Loaded(namespace, None)
            return root.meta[_LOADED]  # type: ignore[no-any-return]
        stack = contextlib.ExitStack()
        root.call_on_close(stack.close)
        try:
            root.meta[_LOADED] = load(root.params, stack)
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
