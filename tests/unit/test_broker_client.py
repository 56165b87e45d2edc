"""Which invocations the `corral` command hands to the broker (pure logic)."""

from __future__ import annotations

import click
import pytest

from corral.broker.client import FLAGS, NEVER, VALUED, wanted
from corral.cli.options import core_params

ON = {"CORRAL_BROKER": "1"}


@pytest.mark.parametrize(
    ("argv", "env", "persist"),
    [
        (["-H", "web1", "--", "uptime"], ON, 60.0),
        (["--broker", "-H", "web1", "--", "uptime"], {}, 60.0),
        (["-Hweb1", "-Pe", "--hide=both", "--", "uptime"], ON, 60.0),
        (["-H", "web1", "--broker-persist", "300", "--", "uptime"], ON, 300.0),
        (["-H", "web1", "--", "uptime"], {**ON, "CORRAL_BROKER_PERSIST": "5"}, 5.0),
        (["-H", "web1", "--", "uptime"], {}, None),  # not asked for
        (["-H", "web1", "--", "uptime"], {"CORRAL_BROKER": "0"}, None),
        (["-H", "web1", "deploy"], ON, None),  # a task: runs by itself
        (["-H", "web1", "deploy", "--", "x"], ON, None),
        (["-H", "web1", "--"], ON, None),  # nothing to run
        (["--prompt-for-sudo-password", "-H", "web1", "--", "x"], ON, None),  # asks here
        (["-d", "-H", "web1", "--", "x"], ON, None),  # tracebacks and logs stay here
        (["--local", "--", "make"], ON, None),
        (["--help"], ON, None),
        (["-H"], ON, None),  # incomplete: the command says what is wrong
        (["--unknown", "-H", "web1", "--", "x"], ON, None),
        (["-H", "web1", "--broker-persist", "soon", "--", "x"], ON, None),
        (["-H", "web1", "--", "x"], {**ON, "_CORRAL_COMPLETE": "bash_complete"}, None),
        (["-G", "web", "--limit", "web1", "--", "x"], ON, 60.0),
        (["-G", "web", "--rerun-failed", "--", "x"], ON, None),
    ],
)
def test_only_ad_hoc_commands_that_ask_for_it_go_to_the_broker(
    argv: list[str], env: dict[str, str], persist: float | None
) -> None:
    assert wanted(argv, env) == persist


def test_the_client_knows_every_option_of_the_command() -> None:
    options = [p for p in core_params() if isinstance(p, click.Option)]
    # a value always (not a flag, nor an option whose value may be left out, like --list)
    valued = {o for p in options if not p.is_flag and not p._flag_needs_value for o in p.opts}
    names = {o for p in options for o in p.opts}
    assert VALUED <= valued  # what it skips a value for takes one
    assert FLAGS <= names - valued  # what it passes as a flag is one
    # every option that takes a value is known: otherwise its value would look like a task
    assert valued - VALUED <= {"--print-completion-script"} | NEVER  # those never come to it
