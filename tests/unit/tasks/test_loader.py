"""Finding the corralfile upward, fabfile for Fabric users, -c names and paths, packages."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.errors import CollectionNotFound
from corral.tasks.loader import find_collection, load_collection

TASKS = "from corral import task\n\n@task\ndef hello(c):\n    '''Say hello.'''\n"


@pytest.fixture(autouse=True)
def _clean_imports() -> Iterator[None]:
    path, modules = list(sys.path), set(sys.modules)
    yield
    sys.path[:] = path
    for name in set(sys.modules) - modules:
        del sys.modules[name]


def test_corralfile_is_found_in_a_parent_directory(tmp_path: Path) -> None:
    (tmp_path / "corralfile.py").write_text(TASKS)
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    assert find_collection(deep) == tmp_path / "corralfile.py"


def test_a_corralfile_package_is_found(tmp_path: Path) -> None:
    package = tmp_path / "corralfile"
    package.mkdir()
    (package / "__init__.py").write_text("from .web import hello\n")
    (package / "web.py").write_text(TASKS)
    path = find_collection(tmp_path)
    assert path == package
    assert list(load_collection(path).tasks) == ["hello"]


def test_the_nearest_corralfile_wins_and_fabfile_is_the_fallback(tmp_path: Path) -> None:
    (tmp_path / "fabfile.py").write_text(TASKS)
    inner = tmp_path / "inner"
    inner.mkdir()
    assert find_collection(inner) == tmp_path / "fabfile.py"
    (tmp_path / "corralfile.py").write_text(TASKS)
    assert find_collection(inner) == tmp_path / "corralfile.py"


def test_collection_name_or_path_chooses_the_file(tmp_path: Path) -> None:
    (tmp_path / "corralfile.py").write_text(TASKS)
    (tmp_path / "ops.py").write_text(TASKS)
    sub = tmp_path / "sub"
    sub.mkdir()
    assert find_collection(sub, "ops") == tmp_path / "ops.py"
    assert find_collection(tmp_path, "sub/../ops.py") == tmp_path / "ops.py"
    with pytest.raises(CollectionNotFound, match=r"nope\.py: no such corralfile"):
        find_collection(tmp_path, "nope.py")


def test_not_found_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(CollectionNotFound) as info:
        find_collection(tmp_path)
    message = str(info.value)
    assert f"in {tmp_path} or any directory above it" in message
    assert "corralfile.py" in message and "fabfile.py" in message and "-c NAME" in message


def test_loading_imports_neighbours_and_reports_the_corralfiles_own_errors(
    tmp_path: Path,
) -> None:
    (tmp_path / "helpers.py").write_text("GREETING = 'hi'\n")
    (tmp_path / "corralfile.py").write_text("from helpers import GREETING\n" + TASKS)
    collection = load_collection(tmp_path / "corralfile.py")
    assert collection.name is None and collection["hello"].summary == "Say hello."
    assert collection.loaded_from == str(tmp_path / "corralfile.py")
    (tmp_path / "broken.py").write_text("import not_a_module_anywhere\n")
    with pytest.raises(ModuleNotFoundError):
        load_collection(tmp_path / "broken.py")
    assert "broken" not in sys.modules
