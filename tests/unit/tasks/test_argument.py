"""Task signatures become command-line arguments (Invoke's rules), as a table of cases."""

from __future__ import annotations

import inspect
import string
from typing import Any

import pytest

from corral import task
from corral.tasks.argument import Argument, task_arguments


def _one(body: Any, **options: Any) -> Argument:
    (argument,) = task_arguments(body, task="t", **options)
    return argument


def f_str(c, branch="main"): ...
def f_int(c, replicas=3): ...
def f_float(c, ratio=0.5): ...
def f_annotated(c, replicas: int | None = None): ...
def f_true(c, verify=True): ...
def f_bool(c, force: bool = False): ...
def f_list_default(c, tag=[]): ...  # noqa: B006
def f_list_annotated(c, port: list[int] | None = None): ...
def f_required(c, target): ...
def f_keyword_only(c, *, target): ...
def f_none(c, name=None): ...


@pytest.mark.parametrize(
    ("body", "options", "expected"),
    [
        (f_str, {}, ("value", str, "main", False, False)),
        (f_int, {}, ("value", int, 3, False, False)),
        (f_float, {}, ("value", float, 0.5, False, False)),
        (f_annotated, {}, ("value", int, None, False, False)),
        (f_none, {}, ("value", str, None, False, False)),
        (f_true, {}, ("flag", bool, True, False, False)),
        (f_bool, {}, ("flag", bool, False, False, False)),
        (f_list_default, {}, ("list", str, [], False, False)),
        (f_list_annotated, {}, ("list", int, [], False, False)),
        (f_none, {"iterable": ["name"]}, ("list", str, [], False, False)),
        (f_int, {"incrementable": ["replicas"]}, ("count", int, 3, False, False)),
        (f_none, {"optional": ["name"]}, ("optional", str, None, False, False)),
        (f_required, {}, ("value", str, None, True, True)),
        (f_keyword_only, {}, ("value", str, None, False, True)),  # required option
        (f_str, {"positional": ["branch"]}, ("value", str, "main", True, False)),
        (f_required, {"positional": []}, ("value", str, None, False, True)),
    ],
)
def test_signature_becomes_arguments(
    body: Any, options: dict[str, Any], expected: tuple[Any, ...]
) -> None:
    argument = _one(body, **options)
    assert (
        argument.kind,
        argument.type,
        argument.default,
        argument.positional,
        argument.required,
    ) == expected


def test_flags_are_dashed_and_help_attached() -> None:
    def deploy(c, dry_run=False, max_parallel=4): ...

    arguments = task_arguments(deploy, task="deploy", help={"max-parallel": "At most."})
    assert [a.flag for a in arguments] == ["--dry-run", "--max-parallel"]
    assert [a.help for a in arguments] == [None, "At most."]


def test_short_flags_are_unique_and_never_h() -> None:
    def many(
        c, host=None, hosts=None, help_text=None, branch=None, build=None, bump=None, b=None
    ): ...

    arguments = task_arguments(many, task="many")
    shorts = [a.short for a in arguments]
    assert shorts == ["o", "s", "e", "b", "u", "m", None]  # h is help; b is taken by then
    given = [s for s in shorts if s]
    assert len(given) == len(set(given)) and "h" not in given


@pytest.mark.parametrize("count", [5, 30, 60])
def test_short_flags_stay_collision_free_for_many_arguments(count: int) -> None:
    names = [f"{a}{b}" for a in string.ascii_lowercase for b in "xyz"][:count]

    def body(c: Any, **kwargs: Any) -> None: ...

    parameters = [inspect.Parameter("c", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    parameters += [
        inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None) for n in names
    ]
    body.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    shorts = [a.short for a in task_arguments(body, task="t") if a.short]
    assert len(shorts) == len(set(shorts))
    assert "h" not in shorts


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"help": {"nope": "x"}}, "help= names nope, which is not a parameter"),
        ({"positional": ["a", "b"]}, "positional= names a, b, which are not parameters"),
        ({"iterable": ["zz"]}, "iterable= names zz"),
        ({"incrementable": ["zz"]}, "incrementable= names zz"),
        ({"optional": ["zz"]}, "optional= names zz"),
    ],
)
def test_options_naming_unknown_parameters_are_refused(
    options: dict[str, Any], message: str
) -> None:
    with pytest.raises(TypeError, match=message):
        task_arguments(f_str, task="t", **options)


def test_a_task_must_take_a_context() -> None:
    with pytest.raises(TypeError, match="first parameter must be the context"):

        @task
        def lonely() -> None: ...


def test_task_checks_its_options_when_decorating() -> None:
    with pytest.raises(TypeError, match="task deploy: help= names brnch"):

        @task(help={"brnch": "typo"})
        def deploy(c, branch="main"): ...
