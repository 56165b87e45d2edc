"""Copying and merging nested settings: the one merge every config level goes through."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def copy_data(value: Any) -> Any:
    """Copy nested dicts and lists; other values (streams, Connections) are shared, not copied."""
    if isinstance(value, Mapping):
        return {key: copy_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_data(item) for item in value]
    return value


def merge_dicts(base: dict[str, Any], updates: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `updates` into `base` in place, recursing into nested dicts; return `base`."""
    for key, value in updates.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge_dicts(base[key], value)
        elif isinstance(value, Mapping):
            base[key] = merge_dicts({}, value)
        else:
            base[key] = value
    return base


def nest(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """Return `value` under the keys of `path`: ("run", "echo"), 1 -> {"run": {"echo": 1}}."""
    nested: dict[str, Any] = {path[-1]: value}
    for part in reversed(path[:-1]):
        nested = {part: nested}
    return nested


def lookup(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """Return the value at `path` in nested mappings, or None."""
    node: Any = data
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node
