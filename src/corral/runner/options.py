"""`RunKwargs` and `resolve_options`: a command's keyword arguments over the `run` section of
config, settled into `RunOptions` (declared in `config/run.py`)."""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import IO, Any

from ..config import Config, Secret
from ..config.run import Hide, InStream, RunOptions, StreamName
from ..errors import ConfigError
from .watchers import StreamWatcher

if sys.version_info >= (3, 11):
    from typing import TypedDict, Unpack
else:  # pragma: no cover
    from typing_extensions import TypedDict, Unpack

__all__ = [
    "Hide",
    "InStream",
    "RunKwargs",
    "RunOptions",
    "StreamName",
    "Unpack",
    "normalize_hide",
    "resolve_options",
]


class RunKwargs(TypedDict, total=False):
    """Options of `run`, `local` and `sudo`; a key left out is taken from config (`run.*`).

    The same names as RunOptions' fields (pinned by a test; mypy needs them written out).
    """

    hide: Hide
    warn: bool
    echo: bool
    pty: bool
    env: Mapping[str, str | Secret]
    replace_env: bool
    timeout: float | None
    watchers: Sequence[StreamWatcher]
    in_stream: InStream
    out_stream: IO[str] | IO[bytes] | None
    err_stream: IO[str] | IO[bytes] | None
    encoding: str | None
    echo_format: str
    echo_stdin: bool | None
    fallback: bool
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


def resolve_options(config: Config, kwargs: Mapping[str, Any]) -> RunOptions:
    """Merge call keyword arguments over the `run` section of config into RunOptions."""
    unknown = set(kwargs) - set(RunKwargs.__annotations__)
    if unknown & {"asynchronous", "disown"}:
        raise TypeError(
            f"{' and '.join(sorted(unknown & {'asynchronous', 'disown'}))}= belong to the "
            "blocking API (corral.Connection.run); with corral.aio, run the call as a task: "
            "asyncio.create_task(c.run(...))"
        )
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
        env={str(k): v if isinstance(v, Secret) else str(v) for k, v in env.items()},
        replace_env=bool(settings.get("replace_env")),
        timeout=float(timeout) if timeout is not None else None,
        watchers=tuple(settings.get("watchers") or ()),
        in_stream=settings.get("in_stream"),
        out_stream=settings.get("out_stream"),
        err_stream=settings.get("err_stream"),
        encoding=settings.get("encoding") or "utf-8",
        echo_format=settings.get("echo_format") or "{command}",
        echo_stdin=settings.get("echo_stdin"),
        fallback=bool(settings.get("fallback", True)),
        shell=settings.get("shell") or "/bin/bash",
        capture_limit=settings.get("capture_limit"),
    )
