"""A task's command line: where its arguments end and the next task begins, and the values."""

from __future__ import annotations

from typing import Any

import click
import pytest

from corral import task
from corral.cli.task_command import TaskCommand


@task(iterable=["tag"], incrementable=["verbose"], optional=["log"])
def deploy(c, target, branch="main", check=True, tag=None, verbose=0, log=None):
    """Deploy."""


@task
def other(c): ...


TASKS = {"deploy", "other"}


@pytest.mark.parametrize(
    ("args", "mine", "rest"),
    [
        (["web"], ["web"], []),
        (["web", "other"], ["web"], ["other"]),
        (["-b", "dev", "web", "other"], ["-b", "dev", "web"], ["other"]),
        (["web", "-b", "dev", "other", "-x"], ["web", "-b", "dev"], ["other", "-x"]),
        (["web", "--branch=dev", "other"], ["web", "--branch=dev"], ["other"]),
        (["web", "-vvv", "-bdev", "other"], ["web", "-vvv", "-bdev"], ["other"]),
        (["web", "-vb", "dev", "other"], ["web", "-vb", "dev"], ["other"]),
        (["--target", "web", "other"], ["--target", "web"], ["other"]),
        (["-t", "web", "other"], ["-t", "web"], ["other"]),
        (["web", "--log", "other"], ["web", "--log"], ["other"]),
        (["web", "--log", "x.log", "other"], ["web", "--log", "x.log"], ["other"]),
        (["web", "--log", "--no-check"], ["web", "--log", "--no-check"], []),
        (["web", "-b", "other"], ["web", "-b", "other"], []),  # a value, even a task's name
        (["web", "--bogus", "other"], ["web", "--bogus"], ["other"]),  # click reports it
    ],
)
def test_split_args_finds_where_the_next_task_begins(
    args: list[str], mine: list[str], rest: list[str]
) -> None:
    command = TaskCommand("deploy", deploy)
    assert command.split_args(args, TASKS.__contains__) == (mine, rest)


def _parse(*args: str) -> dict[str, Any]:
    command = TaskCommand("deploy", deploy)
    ctx = command.make_context("deploy", list(args))
    return command.call_kwargs(ctx)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["web"], {}),
        (["--target", "web"], {}),
        (["web", "--no-check", "-c"], {}),  # the last of --no-check / -c wins
        (["web", "--no-check"], {"check": False}),
        (["web", "--tag", "a", "-a", "b"], {"tag": ["a", "b"]}),
        (["web", "-vv", "--verbose"], {"verbose": 3}),
        (["web", "--log"], {"log": True}),
        (["web", "-l", "out.log"], {"log": "out.log"}),
        (["web", "-b", "dev"], {"branch": "dev"}),
    ],
)
def test_values_reach_the_task(args: list[str], expected: dict[str, Any]) -> None:
    defaults = {
        "target": "web",
        "branch": "main",
        "check": True,
        "tag": [],
        "verbose": 0,
        "log": None,
    }
    assert _parse(*args) == {**defaults, **expected}


def test_a_missing_positional_is_a_usage_error() -> None:
    with pytest.raises(click.UsageError, match=r"missing TARGET \(give it, or --target VALUE\)"):
        _parse("-b", "dev")
