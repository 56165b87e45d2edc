"""`RunOptions`: the settled options of one command, from keyword arguments over config."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from ..config import Config
from ..errors import ConfigError
from .watchers import StreamWatcher

if sys.version_info >= (3, 11):
    from typing import TypedDict, Unpack
else:  # pragma: no cover
    from typing_extensions import TypedDict, Unpack

__all__ = ["Hide", "InStream", "RunKwargs", "RunOptions", "Unpack", "resolve_options"]

Hide = bool | Literal["out", "stdout", "err", "stderr", "both"] | None
StreamName = Literal["stdout", "stderr"]
#: stdin for a command: None = the terminal when interactive, else end-of-file; False = always EOF.
InStream = IO[str] | IO[bytes] | Literal[False] | None


class RunKwargs(TypedDict, total=False):
    """Options of `run`, `local` and `sudo`; a key left out is taken from config (`run.*`)."""

    hide: Hide
    warn: bool
    echo: bool
    pty: bool
    env: Mapping[str, str]
    replace_env: bool
    timeout: float | None
    watchers: Sequence[StreamWatcher]
    in_stream: InStream
    out_stream: IO[str] | IO[bytes] | None
    err_stream: IO[str] | IO[bytes] | None
    encoding: str | None
    echo_format: str
    shell: str
    capture_limit: int | None


_HIDE: dict[object, tuple[StreamName, ...]] = {
    None: (),
    False: (),
    True: ("stdout", "stderr"),
    "both": ("stdout", "stderr"),
    "out": ("stdout",),
    "stdout": ("stdout",),
    "err": ("stderr",),
    "stderr": ("stderr",),
}


def normalize_hide(value: object) -> tuple[StreamName, ...]:
    """Turn a `hide` value (True, 'out', 'err', 'both', False, None) into stream names."""
    try:
        return _HIDE[value]
    except (KeyError, TypeError):
        raise ConfigError(
            f"hide={value!r} is not one of True, False, None, 'out', 'err', 'both'"
        ) from None


@dataclass(frozen=True)
class RunOptions:
    """Everything that shapes how one command runs, with config already applied."""

    hide: tuple[StreamName, ...] = ()
    warn: bool = False
    echo: bool = False
    pty: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    replace_env: bool = False
    timeout: float | None = None
    watchers: tuple[StreamWatcher, ...] = ()
    in_stream: InStream = None
    out_stream: IO[str] | IO[bytes] | None = None
    err_stream: IO[str] | IO[bytes] | None = None
    encoding: str = "utf-8"
    echo_format: str = "{command}"
    shell: str = "/bin/bash"
    capture_limit: int | None = None


def resolve_options(config: Config, kwargs: Mapping[str, Any]) -> RunOptions:
    """Merge call keyword arguments over the `run` section of config into RunOptions."""
    unknown = set(kwargs) - set(RunKwargs.__annotations__)
    if unknown:
        raise TypeError(
            f"unexpected run option(s) {', '.join(sorted(unknown))}; "
            f"valid: {', '.join(sorted(RunKwargs.__annotations__))}"
        )
    run = config.get("run")
    settings: dict[str, Any] = dict(run.items()) if run is not None else {}
    settings.update(kwargs)
    timeout = kwargs.get("timeout", config.get("timeouts.command"))
    if timeout is not None and (not isinstance(timeout, int | float) or timeout <= 0):
        raise ConfigError(f"timeout={timeout!r} must be a positive number of seconds")
    env = settings.get("env") or {}
    bad = [key for key in env if not isinstance(key, str) or not key]
    if bad:
        raise ConfigError(f"env keys must be non-empty strings, not {bad!r}")
    return RunOptions(
        hide=normalize_hide(settings.get("hide")),
        warn=bool(settings.get("warn")),
        echo=bool(settings.get("echo")),
        pty=bool(settings.get("pty")),
        env={str(k): str(v) for k, v in env.items()},
        replace_env=bool(settings.get("replace_env")),
        timeout=float(timeout) if timeout is not None else None,
        watchers=tuple(settings.get("watchers") or ()),
        in_stream=settings.get("in_stream"),
        out_stream=settings.get("out_stream"),
        err_stream=settings.get("err_stream"),
        encoding=settings.get("encoding") or "utf-8",
        echo_format=settings.get("echo_format") or "{command}",
        shell=settings.get("shell") or "/bin/bash",
        capture_limit=settings.get("capture_limit"),
    )
