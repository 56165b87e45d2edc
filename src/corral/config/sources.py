"""The levels a Config is built from, lowest first, each with one `load_*`, and one merge.

defaults < collection < system file < user file < project file < host vars (an inventory's,
per host: `load_host_vars`, applied by `Config.with_host_vars`) < environment variables
< runtime file (`-f`) < command line (flags, then `--set`). Files may be YAML, JSON or Python.
"""

from __future__ import annotations

import json
import os
import re
import runpy
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from .config import Config, checked_host_vars, copy_data, merge_dicts, with_pinned
from .defaults import SECRET_KEYS, global_defaults
from .schema import validate, wrap_secrets
from .secret import Secret

SYSTEM_PREFIX = "/etc/corral"
USER_PREFIX = "~/.corral"
PROJECT_NAME = "corral"
ENV_PREFIX = "CORRAL_"
#: Suffixes tried for the system, user and project files; the first file found is loaded.
SUFFIXES = (".yaml", ".yml", ".json", ".py")
#: Levels above host vars: what they set, a host's vars never override.
PINNED_LEVELS = frozenset({"env", "runtime", "overrides"})


@dataclass(frozen=True)
class Level:
    """One level of configuration: its name, where it came from, and its data."""

    name: str
    source: str
    data: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------------- files


def _located(error: Any) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(problem)


def load_file(path: Path) -> dict[str, Any]:
    """Read a YAML, JSON or Python config file (by suffix; YAML otherwise) into a dict."""
    shown = str(path)
    try:
        if path.suffix == ".py":
            data = _load_python(path)
        else:
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".json":
                try:
                    data = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ConfigError(
                        f"{shown}: not valid JSON (line {exc.lineno}, column {exc.colno}: "
                        f"{exc.msg})"
                    ) from None  # the parser's error quotes the file, which may hold a secret
            else:
                try:
                    data = yaml.safe_load(text)
                except yaml.YAMLError as exc:
                    # not `from exc`: the parser's error quotes the file, which may hold a secret
                    raise ConfigError(f"{shown}: not valid YAML ({_located(exc)})") from None
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read: {exc.strerror or exc}") from exc
    if data is None:  # an empty file
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{shown}: expected a mapping of settings at the top level, got {type(data).__name__}"
        )
    return data


def _load_python(path: Path) -> dict[str, Any]:
    try:
        namespace = runpy.run_path(str(path))
    except Exception as exc:
        raise ConfigError(f"{path}: {type(exc).__name__}: {exc}") from exc
    data: dict[str, Any] = {}
    for key, value in namespace.items():
        if key.startswith("_"):
            continue
        if isinstance(value, types.ModuleType):
            raise ConfigError(
                f"{path}: {key}: a module is not a config value "
                f"(import it as _{key}, or is this a corralfile rather than a config file?)"
            )
        data[key] = value
    return data


def find_file(prefix: str | Path) -> Path | None:
    """Return the first existing `prefix` + .yaml/.yml/.json/.py, or None."""
    base = os.path.expanduser(str(prefix))
    for suffix in SUFFIXES:
        candidate = Path(base + suffix)
        if candidate.is_file():
            return candidate
    return None


def _file_level(name: str, path: Path | None) -> Level:
    if path is None:
        return Level(name, f"{name} file (none)")
    data = wrap_secrets(load_file(path))
    validate(data, str(path))
    return Level(name, str(path), data)


# ---------------------------------------------------------------------- levels


def load_defaults() -> Level:
    """Return corral's built-in defaults."""
    return Level("defaults", "corral's defaults", global_defaults())


def load_collection(data: Mapping[str, Any], source: str = "collection config") -> Level:
    """Return the configuration a task collection carries (`Collection.configure`)."""
    copied = wrap_secrets(copy_data(dict(data)))
    validate(copied, source)
    return Level("collection", source, copied)


def load_system(prefix: str | Path = SYSTEM_PREFIX) -> Level:
    """Return the system file (/etc/corral.yaml, .yml, .json or .py), if there is one."""
    return _file_level("system", find_file(prefix))


def load_user(prefix: str | Path = USER_PREFIX) -> Level:
    """Return the user file (~/.corral.yaml, .yml, .json or .py), if there is one."""
    return _file_level("user", find_file(prefix))


def load_project(directory: Path | None) -> Level:
    """Return the project file (corral.yaml next to the corralfile), if there is one."""
    path = find_file(directory / PROJECT_NAME) if directory is not None else None
    return _file_level("project", path)


def load_runtime(path: Path | None) -> Level:
    """Return the runtime file given with `-f/--config` (it must exist)."""
    if path is not None and not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    return _file_level("runtime", path)


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


def load_host_vars(host_vars: Mapping[str, Any], source: str = "inventory") -> Level:
    """Return the settings a host's inventory vars give its Config (checked, secrets masked)."""
    return Level("inventory", source, checked_host_vars(host_vars, source))


def load_env(environ: Mapping[str, str], shape: Mapping[str, Any]) -> Level:
    """Return settings from CORRAL_* variables, for keys that exist in the lower levels.

    Names match case-insensitively (CORRAL_RUN_ECHO sets run.echo); values are YAML-typed
    (CORRAL_RUN_ECHO=1 and =true both turn echo on).
    """
    names = env_names(shape)
    data: dict[str, Any] = {}
    for variable in sorted(environ):
        path = names.get(variable.upper())
        if path is None:
            continue
        value = _nest(path, coerce(environ[variable], ".".join(path), _lookup(shape, path)))
        validate(value, f"environment variable {variable}")
        merge_dicts(data, value)
    return Level("env", "environment variables", data)


def load_overrides(data: Mapping[str, Any], source: str = "command line") -> Level:
    """Return settings given on the command line (flags, `--set`) or as overrides."""
    copied = wrap_secrets(copy_data(dict(data)))
    validate(copied, source)
    return Level("overrides", source, copied)


def merge_levels(levels: Iterable[Level]) -> Config:
    """Merge levels, lowest first, into one Config."""
    data: dict[str, Any] = {}
    pinned: dict[str, Any] = {}
    for level in levels:
        merge_dicts(data, copy_data(level.data))
        if level.name in PINNED_LEVELS:
            merge_dicts(pinned, copy_data(level.data))
    return with_pinned(Config(defaults=data), pinned)


def load_config(
    *,
    collection: Mapping[str, Any] | None = None,
    project_dir: Path | None = None,
    runtime_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    sets: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    system_prefix: str | Path = SYSTEM_PREFIX,
    user_prefix: str | Path = USER_PREFIX,
) -> Config:
    """Build the Config the command line uses, from every level in order of precedence."""
    lower = [
        load_defaults(),
        load_collection(collection or {}),
        load_system(system_prefix),
        load_user(user_prefix),
        load_project(project_dir),
    ]
    shape = merge_levels(lower).to_dict()  # environment variables reach only known keys
    return merge_levels(
        [
            *lower,
            load_env(os.environ if environ is None else environ, shape),
            load_runtime(runtime_file),
            load_overrides(overrides or {}, "command-line flags"),
            load_overrides(sets or {}, "--set"),
        ]
    )


# ---------------------------------------------------------------------- values


def _lookup(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    node: Any = data
    for part in path:
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _nest(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    nested: dict[str, Any] = {path[-1]: value}
    for part in reversed(path[:-1]):
        nested = {part: nested}
    return nested


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
        merge_dicts(data, _nest(path, coerce(raw, key, _lookup(shape, path))))
    return data
