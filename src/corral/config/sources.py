"""The levels a Config is built from, lowest first, each with one `load_*`, and one merge.

defaults < collection < system file < user file < project file < environment variables
< runtime file (`-f`) < command line (flags, then `--set`). Files may be YAML, JSON or Python.
With a fabfile, Fabric's files and FABRIC_* variables are read too, each just below corral's
own at the same level (/etc/fabric.yaml below /etc/corral.yaml, and so on).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .config import Config
from .defaults import global_defaults
from .environ import ENV_PREFIX, coerce, env_names, env_settings, parse_set
from .files import find_file, load_file, wrap_secrets
from .merge import copy_data, merge_dicts
from .schema import validate

__all__ = [
    "ENV_PREFIX",
    "Level",
    "coerce",
    "env_names",
    "load_collection",
    "load_config",
    "load_defaults",
    "load_env",
    "load_file",
    "load_overrides",
    "load_project",
    "load_runtime",
    "load_system",
    "load_user",
    "merge_levels",
    "parse_set",
]

SYSTEM_PREFIX = "/etc/corral"
USER_PREFIX = "~/.corral"
PROJECT_NAME = "corral"
#: Fabric's names for the same files and variables, read below corral's when a fabfile is used.
FABRIC = "fabric"


@dataclass(frozen=True)
class Level:
    """One level of configuration: its name (one of config.LEVELS), where it came from, and
    its data."""

    name: str
    source: str
    data: dict[str, Any] = field(default_factory=dict)


def _file_level(name: str, path: Path | None) -> Level:
    if path is None:
        return Level(name, f"{name} file (none)")
    data = wrap_secrets(load_file(path))
    validate(data, str(path))
    return Level(name, str(path), data)


def load_defaults(defaults: Mapping[str, Any] | None = None) -> Level:
    """Return corral's built-in defaults (or a Config class's own)."""
    data = global_defaults() if defaults is None else copy_data(dict(defaults))
    return Level("defaults", "corral's defaults", data)


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


def load_project(directory: Path | None, name: str = PROJECT_NAME) -> Level:
    """Return the project file (corral.yaml next to the corralfile), if there is one."""
    path = find_file(directory / name) if directory is not None else None
    return _file_level("project", path)


def load_runtime(path: Path | None) -> Level:
    """Return the runtime file given with `-f/--config` (it must exist)."""
    if path is not None and not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    return _file_level("runtime", path)


def load_env(
    environ: Mapping[str, str], shape: Mapping[str, Any], prefix: str = ENV_PREFIX
) -> Level:
    """Return settings from CORRAL_* (or `prefix`) variables, for keys of the lower levels.

    Names match case-insensitively (CORRAL_RUN_ECHO sets run.echo); values are YAML-typed
    (CORRAL_RUN_ECHO=1 and =true both turn echo on).
    """
    return Level("env", f"{prefix}* environment variables", env_settings(environ, shape, prefix))


def load_overrides(data: Mapping[str, Any], source: str = "command line") -> Level:
    """Return settings given on the command line (flags, `--set`) or as overrides."""
    copied = wrap_secrets(copy_data(dict(data)))
    validate(copied, source)
    return Level("overrides", source, copied)


def merge_levels(levels: Iterable[Level], config_class: type[Config] = Config) -> Config:
    """Merge levels, lowest first, into one Config (of `config_class`)."""
    return config_class.from_levels((level.name, level.data) for level in levels)


def load_config(
    *,
    collection: Mapping[str, Any] | None = None,
    project_dir: Path | None = None,
    runtime_file: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    sets: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    system_prefix: str | Path | None = None,
    user_prefix: str | Path | None = None,
    config_class: type[Config] = Config,
    fabric: bool = False,
) -> Config:
    """Build the Config the command line uses, from every level in order of precedence.

    `config_class` names the files and variables (its `prefix`) and gives the defaults; with
    `fabric`, Fabric's files and FABRIC_* variables are read just below them.
    """
    files = config_class.prefix if config_class.file_prefix is None else config_class.file_prefix
    variables = config_class.prefix if config_class.env_prefix is None else config_class.env_prefix
    system = Path(system_prefix) if system_prefix is not None else Path("/etc") / files
    user = Path(user_prefix) if user_prefix is not None else Path(f"~/.{files}")
    extra = [FABRIC] if fabric and FABRIC not in (files, variables) else []

    def beside(path: Path, name: str) -> Path:
        return path.with_name(name if not path.name.startswith(".") else f".{name}")

    lower = [
        load_defaults(config_class.global_defaults()),
        load_collection(collection or {}),
        *(load_system(beside(system, name)) for name in extra),
        load_system(system),
        *(load_user(beside(user, name)) for name in extra),
        load_user(user),
        *(load_project(project_dir, name) for name in extra),
        load_project(project_dir, files),
    ]
    shape: dict[str, Any] = {}
    for level in lower:  # environment variables reach only keys the lower levels know
        merge_dicts(shape, copy_data(level.data))
    env = os.environ if environ is None else environ
    return merge_levels(
        [
            *lower,
            *(load_env(env, shape, f"{name.upper()}_") for name in extra),
            load_env(env, shape, f"{variables.upper()}_"),
            load_runtime(runtime_file),
            load_overrides(overrides or {}, "command-line flags"),
            load_overrides(sets or {}, "--set"),
        ],
        config_class,
    )
