"""`RunOptions`: the settings of one command, declared once.

Each field is a `run()` keyword argument; its metadata says what the `run` section of config
holds for it by default and what a config file may set there. `config/defaults.py` and
`config/schema.py` derive the `run` section from these fields, and `runner.options.RunKwargs`
lists the same names (a test pins them equal).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import IO, Any, Literal

from .secret import Secret

Hide = bool | Literal["out", "stdout", "err", "stderr", "both"] | None
StreamName = Literal["stdout", "stderr"]
#: stdin for a command: None = the terminal when interactive, else end-of-file; False = always EOF.
InStream = IO[str] | IO[bytes] | Literal[False] | None
Check = Callable[[Any], bool]

HIDE_VALUES: tuple[Hide, ...] = (None, True, False, "out", "stdout", "err", "stderr", "both")
#: The `run` keys that are config only, with their defaults: not arguments of `run()`.
CONFIG_ONLY: dict[str, Any] = {
    "dry": False,  # print commands instead of running them
    # Invoke's: the blocking API takes them as run() arguments (sync/facade.py), config too
    "asynchronous": False,  # return a Promise at once
    "disown": False,  # start the command, do not wait for it, return None
}


def _is_hide(value: Any) -> bool:
    return any(value is v or (isinstance(v, str) and value == v) for v in HIDE_VALUES)


def _or_null(check: Check) -> Check:
    return lambda value: value is None or check(value)


def _meta(
    *, config: Any = MISSING, expect: tuple[str, Check] | None = None, in_config: bool = True
) -> dict[str, Any]:
    """A RunOptions field's metadata: its config default (when it differs from the settled
    default), what config accepts (when not just the default's type), whether config has it."""
    return {"config": config, "expect": expect, "in_config": in_config}


@dataclass(frozen=True)
class RunOptions:
    """Everything that shapes how one command runs, with config already applied."""

    hide: tuple[StreamName, ...] = field(
        default=(),
        metadata=_meta(config=None, expect=("one of true, false, null, out, err, both", _is_hide)),
    )
    warn: bool = field(default=False, metadata=_meta())
    echo: bool = field(default=False, metadata=_meta())
    pty: bool = field(default=False, metadata=_meta())
    #: values may be Secret: sent as they are, masked in output, logs and reprs
    env: Mapping[str, str | Secret] = field(default_factory=dict, metadata=_meta(config={}))
    replace_env: bool = field(default=False, metadata=_meta())
    #: seconds; config sets it as `timeouts.command`, not in the run section
    timeout: float | None = field(default=None, metadata=_meta(in_config=False))
    watchers: tuple[Any, ...] = field(default=(), metadata=_meta(config=[]))
    in_stream: InStream = field(default=None, metadata=_meta())
    out_stream: IO[str] | IO[bytes] | None = field(default=None, metadata=_meta())
    err_stream: IO[str] | IO[bytes] | None = field(default=None, metadata=_meta())
    encoding: str = field(
        default="utf-8",
        metadata=_meta(
            config=None,
            expect=("an encoding name or null", _or_null(lambda v: isinstance(v, str))),
        ),
    )
    echo_format: str = field(default="\033[1;37m{command}\033[0m", metadata=_meta())
    #: what corral reads for stdin, echoed: None = the terminal echoes what you type (and a
    #: stream is not echoed); True = a stream's data is shown with the output too; False =
    #: nothing is echoed (the terminal's echo is off while the command runs, without a pty)
    echo_stdin: bool | None = field(
        default=None,
        metadata=_meta(expect=("true, false or null", lambda v: v is None or isinstance(v, bool))),
    )
    #: pty=True where no pty can be had here: run without one (True) or fail (False)
    fallback: bool = field(default=True, metadata=_meta())
    shell: str = field(default="/bin/bash", metadata=_meta())
    #: bytes of each stream kept in Result when output also goes to a caller's stream
    capture_limit: int | None = field(
        default=None,
        metadata=_meta(
            config=1 << 20,
            expect=(
                "a number of bytes or null",
                _or_null(lambda v: isinstance(v, int) and not isinstance(v, bool) and v > 0),
            ),
        ),
    )


def run_section_defaults() -> dict[str, Any]:
    """Return the `run` section of corral's default config, from RunOptions' fields."""
    section: dict[str, Any] = {}
    for spec in fields(RunOptions):
        if not spec.metadata["in_config"]:
            continue
        value = spec.metadata["config"]
        section[spec.name] = copy.deepcopy(spec.default if value is MISSING else value)
    return {**section, **CONFIG_ONLY}


def run_section_expectations() -> dict[str, tuple[str, Check]]:
    """Return `run.KEY` -> (what it accepts, check) where that is not just the default's type."""
    return {
        f"run.{spec.name}": spec.metadata["expect"]
        for spec in fields(RunOptions)
        if spec.metadata["in_config"] and spec.metadata["expect"] is not None
    }
