"""Inventory sources, and the loader that reads them (in order: later ones win) into one
Inventory: corral YAML, Ansible INI / YAML / `--list` JSON, directories of them (with
group_vars/ and host_vars/), executable dynamic inventories, `@ssh_config`, Python hooks."""

from __future__ import annotations

import contextlib
import gc
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Union

from ...config import Config
from ...errors import InventoryError
from ..builder import InventoryBuilder
from ..model import HostTable
from .ansible import IniFormat, ListFormat, YamlFormat, is_list_json, looks_like_ansible_yaml
from .corral import CorralFormat, looks_like_corral
from .hook import HOOK_SPEC, hook_name, inventory_hook, is_inventory_hook, read_hook
from .lines import line_of, load_yaml
from .script import read_script
from .ssh_config import SSH_CONFIG, read_ssh_config
from .vars_dirs import read_vars_dirs

#: A path (file or directory), "@ssh_config", "pkg.mod:function", or a hook function.
Source = Union[str, "os.PathLike[str]", Callable[..., Any]]

#: Looked for next to the corralfile, in this order, when no source is given or configured.
DEFAULT_FILES = ("inventory.yaml", "inventory.yml", "inventory.ini", "hosts")
YAML_SUFFIXES = (".yaml", ".yml")
#: Files a directory source skips (Ansible's inventory_ignore_extensions, and vars dirs).
IGNORED_SUFFIXES = (".cfg", ".retry", ".pyc", ".pyo", ".orig", ".bak", ".md", ".txt")
IGNORED_NAMES = ("group_vars", "host_vars")
#: Seconds a dynamic inventory script gets, when config inventory.script_timeout is unset.
SCRIPT_TIMEOUT = 30.0


def default_sources(config: Config, project_dir: str | Path | None = None) -> list[Source]:
    """Return the sources to load when none are given.

    Config `inventory.sources` (paths relative to the project directory) and
    `inventory.hook`; else the first of inventory.yaml, inventory.yml, inventory.ini, hosts
    in the project directory; else "@ssh_config".
    """
    project = Path(project_dir) if project_dir is not None else Path.cwd()
    configured = config.get("inventory.sources") or []
    if isinstance(configured, str):
        configured = [configured]
    sources: list[Source] = []
    for item in configured:
        text = os.path.expanduser(str(item))
        if text == SSH_CONFIG or (HOOK_SPEC.match(text) and not (project / text).exists()):
            sources.append(text)
        else:
            sources.append(str(project / text))
    if not sources:
        for name in DEFAULT_FILES:
            if (project / name).is_file():
                sources.append(str(project / name))
                break
    hook = config.get("inventory.hook")
    if hook:
        sources.append(str(hook))
    return sources or [SSH_CONFIG]


def inventory_sources(
    given: Sequence[Source] = (),
    *,
    config: Config,
    project_dir: str | Path | None = None,
    hooks: Sequence[Callable[..., Any]] = (),
) -> list[Source]:
    """Return the sources a run reads: those given (`--inventory`), else the configured or
    default ones (see default_sources) with the corralfile's @inventory_hook functions."""
    if given:
        return list(given)
    defaults = default_sources(config, project_dir)
    if hooks and defaults == [SSH_CONFIG]:
        return list(hooks)  # the corralfile's hooks say where hosts come from
    return [*defaults, *hooks]


def describe_source(source: Source) -> str:
    """Return how a source is named in messages and listings."""
    if callable(source):
        return hook_name(source)
    return os.fspath(source)


def load_inventory(
    sources: Sequence[Source],
    *,
    config: Config | None = None,
    project_dir: str | Path | None = None,
) -> HostTable:
    """Read sources (or the default ones) in order into one resolved Inventory."""
    config = config if config is not None else Config()
    chosen = list(sources) if sources else default_sources(config, project_dir)
    builder = InventoryBuilder()
    timeout = float(config.get("inventory.script_timeout") or SCRIPT_TIMEOUT)
    directories: list[Path] = []
    with _collector_paused():
        for source in chosen:
            directory = _add(builder, source, config, timeout)
            if directory is not None and directory not in directories:
                directories.append(directory)
        for directory in directories:
            read_vars_dirs(builder, directory)
        return builder.build([describe_source(s) for s in chosen])


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while an inventory is built: its many small
    objects hold no cycles, and the collections that walk them all were a quarter of the
    time of loading 10,000 hosts (measured). Collection resumes at once afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _add(builder: InventoryBuilder, source: Source, config: Config, timeout: float) -> Path | None:
    """Add one source; return the directory whose group_vars/host_vars apply, if any."""
    if callable(source):
        read_hook(builder, source, config)
        return None
    text = os.fspath(source)
    if text == SSH_CONFIG:
        read_ssh_config(builder, config)
        return None
    path = Path(os.path.expanduser(text))
    if not path.exists():
        if HOOK_SPEC.match(text):
            read_hook(builder, text, config)
            return None
        raise InventoryError(
            "no such inventory file or directory (a source is a path, @ssh_config, "
            "or a hook 'package.module:function')",
            source=text,
        )
    if path.is_dir():
        for entry in sorted(path.iterdir()):
            if (
                entry.name.startswith(".")
                or entry.name in IGNORED_NAMES
                or entry.name.endswith("~")
                or entry.suffix in IGNORED_SUFFIXES
            ):
                continue
            _add(builder, entry, config, timeout)
        return path
    read_file(builder, path, timeout)
    return path.parent


def read_file(builder: InventoryBuilder, path: Path, timeout: float = SCRIPT_TIMEOUT) -> None:
    """Read one inventory file, its format chosen by suffix, then by being executable."""
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in (*YAML_SUFFIXES, ".json", ".ini") and os.access(path, os.X_OK):
        read_script(builder, path, timeout)
        return
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InventoryError(f"not UTF-8 text (at byte {exc.start})", source=source) from None
    except OSError as exc:
        raise InventoryError(f"cannot read: {exc.strerror or exc}", source=source) from None
    if suffix == ".ini":
        IniFormat(builder, source).read(text)
    elif suffix == ".json":
        _read_json(builder, text, source)
    elif suffix in YAML_SUFFIXES:
        _read_yaml(builder, load_yaml(text, source), source)
    else:
        _read_unknown(builder, text, source)


def _read_yaml(builder: InventoryBuilder, data: Any, source: str) -> None:
    if data is None:
        return  # an empty file: no hosts
    if isinstance(data, dict) and isinstance(data.get("plugin"), str):
        raise InventoryError(
            f"an inventory plugin's configuration (plugin: {data['plugin']}), not an "
            "inventory; corral reads INI, YAML, JSON, scripts and hooks",
            source=source,
            line=line_of(data, "plugin") or 1,
        )
    if looks_like_corral(data):
        CorralFormat(builder, source).read(data)
    elif looks_like_ansible_yaml(data):
        YamlFormat(builder, source).read(data)
    else:
        raise InventoryError(
            f"expected a mapping: corral's format (hosts, groups, vars) or Ansible's "
            f"(groups at the top, e.g. all:), got {type(data).__name__}",
            source=source,
            line=1,
        )


def _read_json(builder: InventoryBuilder, text: str, source: str) -> None:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InventoryError(
            f"not valid JSON (column {exc.colno}: {exc.msg})", source=source, line=exc.lineno
        ) from None
    if is_list_json(data):
        ListFormat(builder, source).read(data)
    else:
        _read_yaml(builder, data, source)


def _read_unknown(builder: InventoryBuilder, text: str, source: str) -> None:
    """A file without a known suffix (e.g. `hosts`): YAML when it parses as an inventory
    mapping, else Ansible INI (Ansible tries them in that order too)."""
    try:
        data = load_yaml(text, source)
    except InventoryError:
        data = None
    if data is not None and (looks_like_corral(data) or looks_like_ansible_yaml(data)):
        _read_yaml(builder, data, source)
    else:
        IniFormat(builder, source).read(text)


__all__ = [
    "DEFAULT_FILES",
    "SSH_CONFIG",
    "Source",
    "default_sources",
    "describe_source",
    "inventory_hook",
    "inventory_sources",
    "is_inventory_hook",
    "load_inventory",
    "read_file",
]
