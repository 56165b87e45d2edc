"""YAML with line numbers: mappings and lists remember the line of each key and item, so
errors and `--host` can say `file:line`. Built on libyaml when PyYAML has it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

from ...errors import InventoryError
from .linedata import LineDict, LineList
from .plainyaml import read_plain

_Base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class VaultEncrypted:
    """A value encrypted with Ansible Vault (`!vault`): corral cannot read it."""

    def __repr__(self) -> str:
        return "<encrypted with Ansible Vault>"

    def __str__(self) -> str:
        return "<encrypted with Ansible Vault>"


class _LineLoader(_Base):  # type: ignore[misc]
    """A safe loader whose mappings and lists carry line numbers."""


def _mapping(loader: Any, node: yaml.MappingNode) -> Iterator[LineDict]:
    data = LineDict()
    data.line = node.start_mark.line + 1
    yield data
    data.update(loader.construct_mapping(node))
    data.lines = {
        loader.construct_object(key): key.start_mark.line + 1
        for key, _ in node.value
        if isinstance(key, yaml.ScalarNode)
    }


def _sequence(loader: Any, node: yaml.SequenceNode) -> Iterator[LineList]:
    data = LineList()
    data.line = node.start_mark.line + 1
    yield data
    data.extend(loader.construct_sequence(node))
    data.lines = [item.start_mark.line + 1 for item in node.value]


def _vault(loader: Any, node: yaml.Node) -> VaultEncrypted:
    return VaultEncrypted()


_LineLoader.add_constructor("tag:yaml.org,2002:map", _mapping)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _sequence)
_LineLoader.add_constructor("!vault", _vault)


def load_yaml(text: str, source: str) -> Any:
    """Parse YAML text into LineDicts and LineLists; bad YAML raises InventoryError at its line.

    A document in the plain subset of YAML (plainyaml.py) is read by the fast reader, which
    gives the same data and lines; any other goes through PyYAML.
    """
    plain = read_plain(text)
    if plain is not None:
        return plain
    try:
        return yaml.load(text, Loader=_LineLoader)  # a safe loader, with lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "not valid YAML"
        context = f" ({exc.context})" if exc.context and exc.problem else ""
        raise InventoryError(
            f"not valid YAML: {problem}{context}"
            + (f", column {mark.column + 1}" if mark is not None else ""),
            source=source,
            line=mark.line + 1 if mark is not None else None,
        ) from exc
    except yaml.YAMLError as exc:
        raise InventoryError(f"not valid YAML: {exc}", source=source) from exc


def line_of(container: Any, key: Any) -> int | None:
    """Return the line of `key` in a LineDict (or of index `key` in a LineList), if known."""
    if isinstance(container, LineDict | LineList):
        return container.line_of(key)
    return None
