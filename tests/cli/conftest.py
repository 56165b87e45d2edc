"""Running the `corral` command in-process with click's CliRunner."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from corral.cli.main import cli

Invoke = Callable[..., Result]


def _runner() -> CliRunner:
    if "mix_stderr" in inspect.signature(CliRunner.__init__).parameters:  # click < 8.2
        return CliRunner(mix_stderr=False)  # type: ignore[call-arg]
    return CliRunner()


@pytest.fixture
def corral_cli(tmp_path: Path) -> Invoke:
    """Run `corral ARGS` with `-r tmp_path` (where tests write their corralfile)."""

    def invoke(*args: str, input: str | None = None) -> Result:
        return _runner().invoke(cli, ["-r", str(tmp_path), *args], input=input)

    return invoke
