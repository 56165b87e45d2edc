"""Finding and importing the corralfile: `corralfile.py` or a `corralfile/` package, searched
upward from the current directory; `fabfile.py` when there is none (for Fabric users)."""

from __future__ import annotations

import importlib.util
import sys
import types
from collections.abc import Sequence
from pathlib import Path

from ..errors import CollectionNotFound
from .collection import Collection

DEFAULT_NAMES = ("corralfile", "fabfile")


def _candidates(directory: Path, name: str) -> list[Path]:
    return [directory / f"{name}.py", directory / name]


def _is_collection(path: Path) -> bool:
    if path.is_dir():
        return (path / "__init__.py").is_file()
    return path.suffix == ".py" and path.is_file()


def find_collection(start: Path, name: str | None = None) -> Path:
    """Return the corralfile to load: `name` (a module name or a path), searched upward.

    Without a name: corralfile.py or corralfile/ in `start` or a parent, else fabfile.py.
    Raises CollectionNotFound saying where it looked.
    """
    start = start.resolve()
    if name is not None and (name.endswith(".py") or "/" in name):
        path = (start / name).resolve()
        if _is_collection(path):
            return path
        raise CollectionNotFound(f"{path}: no such corralfile (a .py file or a package directory)")
    names: Sequence[str] = (name,) if name else DEFAULT_NAMES
    for candidate in names:
        for directory in (start, *start.parents):
            for path in _candidates(directory, candidate):
                if _is_collection(path):
                    return path
    wanted = " or ".join(f"{n}.py (or {n}/)" for n in names)
    raise CollectionNotFound(
        f"no {wanted} in {start} or any directory above it; "
        "create one, or choose one with -c NAME or -r DIR"
    )


def import_collection_module(path: Path, *, write_pyc: bool = False) -> types.ModuleType:
    """Import a corralfile (a .py file, or a package directory) as a top-level module.

    Its directory goes first on sys.path, so the corralfile can import its neighbours; a
    package's own directory too, so its modules can import each other by name (as Invoke
    does). No .pyc is written unless `write_pyc` (Invoke's default). Errors raised by the
    corralfile's own code propagate unchanged.
    """
    if path.is_dir():
        name = path.name
        spec = importlib.util.spec_from_file_location(
            name, path / "__init__.py", submodule_search_locations=[str(path)]
        )
    else:
        name = path.stem
        spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise CollectionNotFound(f"{path}: cannot be imported as a Python module")
    module = importlib.util.module_from_spec(spec)
    for directory in (str(path.parent), *([str(path)] if path.is_dir() else [])):
        if directory not in sys.path:
            sys.path.insert(0, directory)
    previous = sys.modules.get(name)
    sys.modules[name] = module
    writes, sys.dont_write_bytecode = sys.dont_write_bytecode, not write_pyc
    try:
        spec.loader.exec_module(module)
    except BaseException:
        if previous is not None:
            sys.modules[name] = previous
        else:
            sys.modules.pop(name, None)
        raise
    finally:
        sys.dont_write_bytecode = writes
    return module


def is_fabfile(path: Path) -> bool:
    """True for a fabfile (fabfile.py or fabfile/): Fabric's stand-ins and config apply."""
    return path.stem == "fabfile"


def load_collection(path: Path, *, write_pyc: bool = False) -> Collection:
    """Import a corralfile and return its root Collection."""
    module = import_collection_module(path, write_pyc=write_pyc)
    collection = Collection.from_module(module, loaded_from=str(path))
    collection.name = None  # the root collection's tasks are not prefixed
    return collection


def project_directory(path: Path) -> Path:
    """Return the directory of a corralfile's project (where corral.yaml sits beside it)."""
    return path.parent
