"""Settings from environment variables (`CORRAL_RUN_ECHO=1` sets run.echo), typed as YAML."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from ..errors import ConfigError
from .defaults import SECRET_KEYS, global_defaults
from .merge import lookup, merge_dicts, nest
from .schema import validate
from .secret import Secret

ENV_PREFIX = "CORRAL_"


def env_names(shape: Mapping[str, Any], prefix: str = ENV_PREFIX) -> dict[str, tuple[str, ...]]:
    """Map each settable key of `shape` to its variable name: run.echo -> CORRAL_RUN_ECHO."""
    names: dict[str, tuple[str, ...]] = {}

    def walk(node: Mapping[str, Any], path: tuple[str, ...]) -> None:
        for key, value in node.items():
            here = (*path, str(key))
            if isinstance(value, Mapping) and value:
                walk(value, here)
                continue
            name = prefix + "_".join(re.sub(r"\W", "_", part).upper() for part in here)
            if name in names:
                raise ConfigError(
                    f"environment variable {name} would set both {'.'.join(names[name])} "
                    f"and {'.'.join(here)}; rename one of the keys"
                )
            names[name] = here

    walk(shape, ())
    return names


def env_settings(
    environ: Mapping[str, str], shape: Mapping[str, Any], prefix: str = ENV_PREFIX
) -> dict[str, Any]:
    """Return the settings `PREFIX*` variables make, for keys that exist in `shape`.

    Names match case-insensitively (CORRAL_RUN_ECHO sets run.echo); values are YAML-typed
    (CORRAL_RUN_ECHO=1 and =true both turn echo on).
    """
    names = env_names(shape, prefix.upper())
    data: dict[str, Any] = {}
    for variable in sorted(environ):
        path = names.get(variable.upper())
        if path is None:
            continue
        value = nest(path, coerce(environ[variable], ".".join(path), lookup(shape, path)))
        validate(value, f"environment variable {variable}")
        merge_dicts(data, value)
    return data


def coerce(raw: str, dotted: str, current: Any = None) -> Any:
    """Type a string from the environment or `--set` as YAML, shaped by the current value.

    Secrets stay strings (wrapped in Secret); a string setting stays a string (`user=1234`);
    a boolean setting also takes 0 and 1, and an empty string means false.
    """
    if dotted in SECRET_KEYS:
        return Secret(raw)
    if isinstance(current, str):
        return raw
    if isinstance(current, bool) and raw.strip() == "":
        return False
    try:
        value = yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError:
        value = raw
    if isinstance(current, bool) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    return value


def parse_set(items: Iterable[str], shape: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Turn `--set` items (`deploy.replicas=3`) into nested settings, values YAML-typed."""
    shape = global_defaults() if shape is None else shape
    data: dict[str, Any] = {}
    for item in items:
        key, equals, raw = item.partition("=")
        key = key.strip()
        path = tuple(key.split("."))
        if not equals or not key or not all(path):
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. deploy.replicas=3")
        merge_dicts(data, nest(path, coerce(raw, key, lookup(shape, path))))
    return data
