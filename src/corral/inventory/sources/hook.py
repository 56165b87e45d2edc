"""Python hooks: a function (in the corralfile, or "pkg.mod:function" from config
`inventory.hook`) that returns hosts and groups from anywhere: a CMDB, a cloud API, a CSV.

It is called with no argument, or with the Config when it takes one, and returns either a
mapping in corral's format (`hosts`, `groups`, `vars`), Ansible's `--list` JSON shape (with
`_meta`), or a list of hosts: names, or mappings with a `name` and host keys (`address`,
`port`, `user`, `labels`, `vars`, `groups`, ...).
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from ...config import Config
from ...errors import DynamicInventoryError, InventoryError
from ..builder import InventoryBuilder
from .ansible import ListFormat, is_list_json
from .corral import CorralFormat, looks_like_corral

#: "package.module:function" (the function may be dotted: "mod:Class.method").
HOOK_SPEC = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*\Z")

Hook = Callable[..., Any]
HookT = TypeVar("HookT", bound=Hook)

_MARK = "__corral_inventory_hook__"


def inventory_hook(function: HookT) -> HookT:
    """Mark a corralfile function as an inventory source (the hosts and groups it returns)."""
    setattr(function, _MARK, True)
    return function


def is_inventory_hook(value: object) -> bool:
    """True for a function marked with @inventory_hook."""
    return callable(value) and getattr(value, _MARK, False) is True


def hook_name(hook: Hook | str) -> str:
    """Return how a hook is named in messages: "hook module.function"."""
    if isinstance(hook, str):
        return f"hook {hook}"
    module = getattr(hook, "__module__", None) or "?"
    name = getattr(hook, "__qualname__", None) or getattr(hook, "__name__", repr(hook))
    return f"hook {module}.{name}"


def import_hook(spec: str) -> Hook:
    """Import "pkg.mod:function" and return the function."""
    module_name, _, attribute = spec.partition(":")
    source = hook_name(spec)
    try:
        target: Any = importlib.import_module(module_name)
    except ImportError as exc:
        raise DynamicInventoryError(
            f"cannot import module {module_name!r}: {exc} (it must be importable: "
            "beside the corralfile, or installed)",
            source=source,
        ) from exc
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise DynamicInventoryError(
                f"module {module_name!r} has no {attribute!r}", source=source
            ) from None
    if not callable(target):
        raise DynamicInventoryError(f"{attribute!r} is not a function", source=source)
    return target  # type: ignore[no-any-return]


def _wants_config(hook: Hook) -> bool:
    try:
        parameters = inspect.signature(hook).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD, p.VAR_POSITIONAL) for p in parameters
    )


def read_hook(builder: InventoryBuilder, hook: Hook | str, config: Config) -> None:
    """Call a hook and add the hosts and groups it returns."""
    function = import_hook(hook) if isinstance(hook, str) else hook
    source = hook_name(hook)
    try:
        data = function(config) if _wants_config(function) else function()
    except InventoryError:
        raise
    except Exception as exc:
        raise DynamicInventoryError(f"raised {type(exc).__name__}: {exc}", source=source) from exc
    if isinstance(data, Mapping):
        if is_list_json(data):
            ListFormat(builder, source).read(data)
        elif looks_like_corral(data) or not data:
            CorralFormat(builder, source).read(data)
        else:
            keys = ", ".join(repr(k) for k in list(data)[:5])
            raise DynamicInventoryError(
                f"returned a mapping with keys {keys}: expected corral's format "
                "(hosts, groups, vars), Ansible's --list shape (with _meta), or a list of hosts",
                source=source,
            )
    elif isinstance(data, Iterable) and not isinstance(data, str | bytes):
        CorralFormat(builder, source).read_hosts(list(data))
    else:
        raise DynamicInventoryError(
            f"returned {type(data).__name__}: expected a mapping or a list of hosts",
            source=source,
        )
