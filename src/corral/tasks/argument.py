"""`Argument`: one command-line argument of a task, derived from the function's signature."""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

#: How an argument is given: `--name VALUE`, `--flag/--no-flag`, `--name` with an optional
#: value (True when bare), a repeatable `--name A --name B`, or a counted `-v -v -v`.
Kind = Literal["value", "flag", "optional", "list", "count"]

#: Short flags no task may take: `-h` is help.
RESERVED_SHORT = frozenset("h")

_SIMPLE = (str, int, float, bool)


@dataclass(frozen=True)
class Argument:
    """A task argument as the command line sees it."""

    name: str  # the parameter's name
    kind: Kind
    type: type  # str, int, float or bool (for "list": the type of each item)
    default: Any
    positional: bool = False
    required: bool = False
    short: str | None = None  # a single character, without the dash
    help: str | None = None

    @property
    def flag(self) -> str:
        """The long flag: `--dry-run` for the parameter `dry_run`."""
        return "--" + self.name.replace("_", "-")


def _unwrap_optional(annotation: Any) -> Any:
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        members = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def _annotation_type(annotation: Any) -> tuple[type | None, bool]:
    """Return (simple type, is a list) for an annotation; (None, False) when unknown."""
    annotation = _unwrap_optional(annotation)
    origin = typing.get_origin(annotation)
    if annotation in (list, tuple) or origin in (list, tuple, Iterable, typing.Sequence):
        items = [a for a in typing.get_args(annotation) if a is not Ellipsis]
        item = items[0] if items and items[0] in _SIMPLE else str
        return item, True
    if annotation in _SIMPLE:
        return annotation, False
    return None, False


def _hints(body: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(body)
    except Exception:  # unresolvable forward references: fall back to the defaults' types
        return {}


def task_arguments(
    body: Callable[..., Any],
    *,
    task: str,
    positional: Iterable[str] | None = None,
    optional: Iterable[str] = (),
    iterable: Iterable[str] = (),
    incrementable: Iterable[str] = (),
    help: Mapping[str, str] | None = None,
) -> list[Argument]:
    """Return the command-line arguments of a task function, in signature order.

    The first parameter is the context and is skipped. Raises TypeError when the function
    takes no context, or when positional/optional/iterable/incrementable/help name a
    parameter the function does not have.
    """
    parameters = list(inspect.signature(body).parameters.values())
    if not parameters or parameters[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        raise TypeError(f"task {task}: its first parameter must be the context (c)")
    params = [
        p
        for p in parameters[1:]
        if p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    ]
    names = [p.name for p in params]
    help_by_name = {key.replace("-", "_"): text for key, text in (help or {}).items()}
    chosen = {
        "positional": set(positional or ()),
        "optional": set(optional),
        "iterable": set(iterable),
        "incrementable": set(incrementable),
        "help": set(help_by_name),
    }
    for option, given in chosen.items():
        unknown = sorted(given - set(names))
        if unknown:
            raise TypeError(
                f"task {task}: {option}= names {', '.join(unknown)}, which "
                f"{'is not a parameter' if len(unknown) == 1 else 'are not parameters'} "
                f"of {body.__name__}"
            )
    hints = _hints(body)
    taken: set[str] = set(RESERVED_SHORT)
    arguments = []
    for param in params:
        has_default = param.default is not inspect.Parameter.empty
        default = param.default if has_default else None
        if positional is None:
            is_positional = not has_default and param.kind != inspect.Parameter.KEYWORD_ONLY
        else:
            is_positional = param.name in chosen["positional"]
        kind, kind_type, default = _kind(param.name, hints.get(param.name), default, chosen)
        short = next((ch for ch in param.name.lower() if ch.isalnum() and ch not in taken), None)
        if short is not None:
            taken.add(short)
        arguments.append(
            Argument(
                name=param.name,
                kind=kind,
                type=kind_type,
                default=default,
                positional=is_positional and kind == "value",
                required=not has_default and kind in ("value", "optional"),
                short=short,
                help=help_by_name.get(param.name),
            )
        )
    return arguments


def _kind(
    name: str, annotation: Any, default: Any, chosen: Mapping[str, set[str]]
) -> tuple[Kind, type, Any]:
    """Return (kind, type, default) for one parameter."""
    declared, is_list = _annotation_type(annotation)
    if name in chosen["incrementable"]:
        return "count", int, default if isinstance(default, int) else 0
    if name in chosen["iterable"] or is_list or isinstance(default, list | tuple):
        item = declared or (type(default[0]) if default and type(default[0]) in _SIMPLE else str)
        return "list", item, list(default) if default else []
    if declared is bool or (declared is None and isinstance(default, bool)):
        return "flag", bool, bool(default)
    value_type = declared or (type(default) if type(default) in _SIMPLE else str)
    if name in chosen["optional"]:
        return "optional", value_type, default
    return "value", value_type, default
