"""What corral's own config keys accept: every loaded level is checked, so bad config is
reported with its source (file, variable or flag), the dotted key and what was expected."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import ConfigError
from .defaults import SECRET_KEYS, global_defaults
from .run import run_section_expectations
from .secret import Secret

Check = Callable[[Any], bool]


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_positive(value: Any) -> bool:
    return _is_number(value) and value > 0


def _is_text(value: Any) -> bool:
    return isinstance(value, str)


def _or_null(check: Check) -> Check:
    return lambda value: value is None or check(value)


HOST_KEY_POLICIES = ("strict", "accept-new", "ignore")

#: Keys whose expectation is not simply "the type of the default".
EXPECTED: dict[str, tuple[str, Check]] = {
    **run_section_expectations(),
    "timeouts.connect": ("a positive number of seconds", _is_positive),
    "timeouts.command": ("a positive number of seconds or null", _or_null(_is_positive)),
    "port": ("a port number", lambda v: isinstance(v, int) and not _is_bool(v) and 0 < v < 65536),
    "max_sessions": ("a positive whole number", lambda v: isinstance(v, int) and v > 0),
    "host_key_policy": (
        "one of strict, accept-new, ignore (or null)",
        lambda value: value is None or value in HOST_KEY_POLICIES,
    ),
    "ssh_config_path": ("a file path or null", _or_null(_is_text)),
    "bind_address": ("a local IP address or null", _or_null(_is_text)),
    "executor.kind": (
        "one of local, pool, ray",
        lambda value: value in ("local", "pool", "ray"),
    ),
    "executor.workers": ("a whole number >= 1", lambda v: isinstance(v, int) and v >= 1),
    "executor.ray_address": ("a Ray address (auto, host:port, ray://...)", _is_text),
    "executor.placement": ("a host var name or null", _or_null(_is_text)),
    "executor.shards": (
        "a whole number >= 1 or null",
        _or_null(lambda v: isinstance(v, int) and not _is_bool(v) and v >= 1),
    ),
    "sudo.user": ("a user name or null", _or_null(_is_text)),
    "sudo.prompt": ("a prompt string or null", _or_null(_is_text)),
    "sudo.password": ("a string or null", _or_null(lambda v: isinstance(v, str | Secret))),
    "connect_kwargs.password": (
        "a string or null",
        _or_null(lambda v: isinstance(v, str | Secret)),
    ),
    "connect_kwargs.passphrase": (
        "a string or null",
        _or_null(lambda v: isinstance(v, str | Secret)),
    ),
    "inventory.sources": (
        "an inventory path (or a list of them)",
        lambda v: _is_text(v) or (isinstance(v, list | tuple) and all(_is_text(p) for p in v)),
    ),
    "inventory.hook": (
        "a hook's module path 'package.module:function' or null",
        _or_null(_is_text),
    ),
    "inventory.script_timeout": ("a positive number of seconds", _is_positive),
    "connect_kwargs.key_filename": (
        "a key file path or a list of them",
        lambda v: _is_text(v) or (isinstance(v, list) and all(_is_text(p) for p in v)),
    ),
    "journal.path": ("a file path or null", _or_null(_is_text)),
    "journal.url": ("a database URL or null", _or_null(lambda v: isinstance(v, str | Secret))),
    "journal.tail_lines": (
        "a whole number of lines >= 0",
        lambda v: isinstance(v, int) and not _is_bool(v) and v >= 0,
    ),
    "journal.tail_bytes": (
        "a whole number of bytes >= 0",
        lambda v: isinstance(v, int) and not _is_bool(v) and v >= 0,
    ),
    "journal.retention_days": ("a positive number of days or null", _or_null(_is_positive)),
    "journal.busy_timeout": ("a positive number of seconds", _is_positive),
}

#: Sections whose keys are all corral's own: an unknown key there is a typo.
CLOSED_SECTIONS = frozenset(
    {"run", "timeouts", "keepalive", "sudo", "journal", "inventory", "executor"}
)


def _from_default(default: Any) -> tuple[str, Check] | None:
    """Return the expectation implied by a default value (None: anything goes)."""
    if isinstance(default, bool):
        return "true or false", _is_bool
    if isinstance(default, int | float):
        return "a number", _is_number
    if isinstance(default, str):
        return "a string", _is_text
    if isinstance(default, Mapping):
        return "a mapping (a section of keys)", lambda value: isinstance(value, Mapping)
    if isinstance(default, list):
        return "a list", lambda value: isinstance(value, list | tuple)
    return None


def expectation(dotted: str, default: Any) -> tuple[str, Check] | None:
    """Return (description, check) for a key, or None when any value is accepted."""
    return EXPECTED.get(dotted) or _from_default(default)


def _shown(dotted: str, value: Any) -> str:
    if dotted in SECRET_KEYS:
        return f"a {type(value).__name__}"  # never the secret itself
    return repr(value)


def validate(data: Mapping[str, Any], source: str) -> None:
    """Check the keys corral knows in `data`; raise ConfigError naming source, key, expectation."""
    _validate(data, global_defaults(), "", source)


def _validate(
    data: Mapping[str, Any], defaults: Mapping[str, Any], prefix: str, source: str
) -> None:
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if not isinstance(key, str):
            raise ConfigError(f"{source}: {dotted}: keys must be strings, got {key!r}")
        section = prefix.rstrip(".")
        if key not in defaults and dotted not in EXPECTED and section in CLOSED_SECTIONS:
            close = difflib.get_close_matches(key, list(defaults), n=1)
            hint = f"; did you mean {section}.{close[0]}?" if close else ""
            raise ConfigError(
                f"{source}: {dotted}: unknown setting in section {section!r} "
                f"(known: {', '.join(sorted(defaults))}){hint}"
            )
        default = defaults.get(key)
        expected = expectation(dotted, default)
        if expected is not None:
            description, check = expected
            if not check(value):
                raise ConfigError(
                    f"{source}: {dotted}: expected {description}, got {_shown(dotted, value)}"
                )
        if isinstance(default, Mapping) and isinstance(value, Mapping) and dotted != "run.env":
            _validate(value, default, dotted + ".", source)
