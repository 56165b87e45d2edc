"""`Config`: nested settings with attribute and dict access, merged from levels.

The levels are Invoke's, lowest first: defaults < collection < system file < user file <
project file < environment variables < runtime file < overrides; what code sets on a Config
(`config.run.echo = True`) sits on top and survives a level loaded later, as in Invoke.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, ClassVar

from ..errors import ConfigError, UnsupportedError
from .defaults import SECRET_KEYS, global_defaults
from .environ import env_settings
from .files import find_file, load_file, wrap_secrets
from .merge import copy_data, merge_dicts
from .schema import validate
from .secret import MASK, Secret

__all__ = ["LEVELS", "Config", "DataProxy", "copy_data", "copy_dict", "merge_dicts"]

#: The levels of a Config, lowest first. Loading a level replaces it, except `overrides`,
#: which stack: each `load_overrides` goes on top of the ones before (the command line's).
LEVELS = (
    "defaults",
    "collection",
    "system",
    "user",
    "project",
    "inventory",  # a host's inventory vars: per host, through Config.with_host_vars
    "env",
    "runtime",
    "overrides",
)

#: Invoke's name for copy_data.
copy_dict = copy_data


def _masked(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out[key] = _masked(value, dotted + ".")
        elif value is not None and (dotted in SECRET_KEYS or isinstance(value, Secret)):
            out[key] = MASK
        else:
            out[key] = value
    return out


class DataProxy:
    """A view of a nested dict: `proxy.a.b` and `proxy["a"]["b"]` read and write it."""

    __slots__ = ("_data", "_path", "_root")

    def __init__(self, data: dict[str, Any], path: str = "", root: Config | None = None) -> None:
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_path", path)
        object.__setattr__(self, "_root", root)

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> DataProxy:
        """Return a view of `data` (Invoke's constructor)."""
        return DataProxy(data)

    def _wrap(self, key: str, value: Any) -> Any:
        if isinstance(value, dict):
            return DataProxy(value, f"{self._path}{key}.", self._root)
        return value

    def _set(self, key: str, value: Any) -> None:
        self._data[key] = value
        if self._root is not None:
            self._root._record(f"{self._path}{key}", value)

    def __getattr__(self, key: str) -> Any:
        try:
            return self._wrap(key, self._data[key])
        except KeyError:
            raise AttributeError(
                f"no config key {self._path}{key!s}; known: {', '.join(sorted(self._data))}"
            ) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self._set(key, value)

    def __getitem__(self, key: str) -> Any:
        return self._wrap(key, self._data[key])

    def __setitem__(self, key: str, value: Any) -> None:
        self._set(key, value)

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, DataProxy):
            return bool(self._data == other._data)
        return isinstance(other, Mapping) and self._data == dict(other)

    __hash__ = None  # type: ignore[assignment]

    def get(self, key: str, default: Any = None) -> Any:
        """Return the value at `key` (dotted keys reach into sections), or `default`."""
        node: Any = self._data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return self._wrap(key, node)

    def keys(self) -> Any:
        """Return the keys of this section."""
        return self._data.keys()

    def items(self) -> Any:
        """Return the (key, value) pairs of this section."""
        return self._data.items()

    def values(self) -> Any:
        """Return the values of this section."""
        return self._data.values()

    def setdefault(self, key: str, default: Any = None) -> Any:
        """Return the value at `key`, setting it to `default` first when missing."""
        if key not in self._data:
            self._set(key, default)
        return self[key]

    def update(self, other: Mapping[str, Any] = (), **more: Any) -> None:  # type: ignore[assignment]
        """Set every key of `other` (and the keyword arguments), as dict.update does."""
        for key, value in {**dict(other), **more}.items():
            self._set(key, value)

    def to_dict(self) -> dict[str, Any]:
        """Return a copy of the data as plain dicts and lists."""
        data: dict[str, Any] = copy_data(self._data)
        return data

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {_masked(self._data, self._path)!r}>"


class Config(DataProxy):
    """corral's settings: defaults merged with overrides (Fabric's `Config(overrides=...)`).

    Invoke's and Fabric's constructor arguments work: `runtime_ssh_path` (read only this
    ssh_config file), `system_ssh_path`, `user_ssh_path`, and the places `load_system`,
    `load_user`, `load_project` and `load_runtime` read. A Config reads no file unless asked
    (`lazy=False` loads the system and user files at once, as Invoke's default does).
    """

    __slots__ = ("_levels", "_locations", "_modifications")

    #: Names the config files (/etc/PREFIX.yaml, ~/.PREFIX.yaml, PREFIX.yaml) and variables
    #: (PREFIX_RUN_ECHO); a subclass may choose its own, as with Invoke's Config.
    prefix: ClassVar[str] = "corral"
    #: The files' prefix, when not `prefix`.
    file_prefix: ClassVar[str | None] = None
    #: The environment variables' prefix, when not `prefix`.
    env_prefix: ClassVar[str | None] = None

    _levels: list[tuple[str, dict[str, Any]]]
    _modifications: dict[str, Any]
    _locations: dict[str, str | None]

    def __init__(
        self,
        overrides: Mapping[str, Any] | None = None,
        defaults: Mapping[str, Any] | None = None,
        *,
        system_prefix: str | None = None,
        user_prefix: str | None = None,
        project_location: str | os.PathLike[str] | None = None,
        runtime_path: str | os.PathLike[str] | None = None,
        lazy: bool | None = None,
        runtime_ssh_path: str | os.PathLike[str] | None = None,
        system_ssh_path: str | os.PathLike[str] | None = None,
        user_ssh_path: str | os.PathLike[str] | None = None,
        ssh_config: object = None,
    ) -> None:
        if ssh_config is not None:
            raise UnsupportedError(
                "Config(ssh_config=...): corral reads ssh_config files itself (asyncssh's "
                "parser), not a paramiko SSHConfig; give the file as runtime_ssh_path="
            )
        self._start(defaults)
        files = self.prefix if self.file_prefix is None else self.file_prefix
        self._locations.update(
            system=system_prefix or f"/etc/{files}",
            user=user_prefix or f"~/.{files}",
            project=os.fspath(project_location) if project_location is not None else None,
            runtime=os.fspath(runtime_path) if runtime_path is not None else None,
        )
        paths = {
            key: os.fspath(value)
            for key, value in (
                ("ssh_config_path", runtime_ssh_path),
                ("system_ssh_path", system_ssh_path),
                ("user_ssh_path", user_ssh_path),
            )
            if value is not None
        }
        if paths:
            self._levels.append(("overrides", paths))
        if overrides:
            self._levels.append(("overrides", copy_data(dict(overrides))))
        if lazy is False:
            self.load_system(merge=False)
            self.load_user(merge=False)
        self._merge()

    def _start(self, defaults: Mapping[str, Any] | None) -> None:
        """Set up an empty Config whose defaults level is `defaults` (or the class's)."""
        DataProxy.__init__(self, {}, "", self)
        base = type(self).global_defaults() if defaults is None else copy_data(dict(defaults))
        object.__setattr__(self, "_levels", [("defaults", base)])
        object.__setattr__(self, "_modifications", {})
        object.__setattr__(self, "_locations", {})

    @classmethod
    def from_levels(cls, levels: Iterable[tuple[str, Mapping[str, Any]]]) -> Config:
        """Return a Config made of named levels (see LEVELS), lowest first."""
        config = cls.__new__(cls)
        config._start({})
        config._levels.clear()
        for name, data in levels:
            config._levels.append((name, copy_data(dict(data))))
        files = cls.prefix if cls.file_prefix is None else cls.file_prefix
        config._locations.update(
            system=f"/etc/{files}", user=f"~/.{files}", project=None, runtime=None
        )
        config._merge()
        return config

    @staticmethod
    def global_defaults() -> dict[str, Any]:
        """Return corral's built-in defaults (a subclass may add its own, as in Invoke)."""
        return global_defaults()

    # ------------------------------------------------------------------ levels

    def _record(self, dotted: str, value: Any) -> None:
        """Remember a value set by code, so it stays on top of levels loaded later."""
        self._modifications.pop(dotted, None)  # the latest assignment replays last
        self._modifications[dotted] = value

    def _merge(self) -> None:
        """Recompute the data from the levels (by rank, then age) and code's assignments."""
        merged: dict[str, Any] = {}
        order = sorted(range(len(self._levels)), key=lambda i: (_rank(self._levels[i][0]), i))
        for index in order:
            merge_dicts(merged, copy_data(self._levels[index][1]))
        for dotted, value in self._modifications.items():
            node = merged
            *parents, last = dotted.split(".")
            for part in parents:
                child = node.get(part)
                if not isinstance(child, dict):
                    child = node[part] = {}
                node = child
            node[last] = copy_data(value)
        self._data.clear()
        self._data.update(merged)

    def _set_level(self, name: str, data: Mapping[str, Any], *, stack: bool, merge: bool) -> None:
        if not stack:
            self._levels[:] = [level for level in self._levels if level[0] != name]
        self._levels.append((name, copy_data(dict(data))))
        if merge:
            self._merge()

    def merge(self, updates: Mapping[str, Any] | None = None) -> None:
        """Merge a nested mapping into this Config, in place (kept over every level); without
        one, recompute the data from the levels (Invoke's `merge()`)."""
        if updates is not None:
            for dotted, value in _flatten(updates):
                self._record(dotted, value)
        self._merge()

    def load_defaults(self, data: Mapping[str, Any], merge: bool = True) -> None:
        """Replace the defaults level."""
        self._set_level("defaults", data, stack=False, merge=merge)

    def load_collection(self, data: Mapping[str, Any], merge: bool = True) -> None:
        """Replace the collection level (a task collection's `configure` data)."""
        self._set_level("collection", wrap_secrets(copy_data(dict(data))), stack=False, merge=merge)

    def load_overrides(self, data: Mapping[str, Any], merge: bool = True) -> None:
        """Add overrides on top of the ones before (corral keeps the command line's; Invoke
        replaces them)."""
        self._set_level("overrides", wrap_secrets(copy_data(dict(data))), stack=True, merge=merge)

    def _load_file(self, name: str, path: Path | None, merge: bool) -> None:
        data: dict[str, Any] = {}
        if path is not None:
            data = wrap_secrets(load_file(path))
            validate(data, str(path))
        self._set_level(name, data, stack=False, merge=merge)

    def load_system(self, merge: bool = True) -> None:
        """Load the system file (/etc/PREFIX.yaml, .yml, .json or .py), if there is one."""
        self._load_file("system", find_file(self._locations["system"] or ""), merge)

    def load_user(self, merge: bool = True) -> None:
        """Load the user file (~/.PREFIX.yaml, .yml, .json or .py), if there is one."""
        self._load_file("user", find_file(self._locations["user"] or ""), merge)

    def load_project(self, merge: bool = True) -> None:
        """Load the project file (PREFIX.yaml in the project location), if there is one."""
        location = self._locations["project"]
        files = self.prefix if self.file_prefix is None else self.file_prefix
        path = find_file(Path(location) / files) if location else None
        self._load_file("project", path, merge)

    def load_runtime(self, merge: bool = True) -> None:
        """Load the runtime file (set with `set_runtime_path`); it must exist."""
        location = self._locations["runtime"]
        path = Path(location) if location else None
        if path is not None and not path.is_file():
            raise ConfigError(f"{path}: config file not found")
        self._load_file("runtime", path, merge)

    def load_shell_env(self) -> None:
        """Load PREFIX_* environment variables, for keys the lower levels define."""
        below = [level for level in self._levels if _rank(level[0]) < _rank("env")]
        shape: dict[str, Any] = {}
        for _, data in below:
            merge_dicts(shape, copy_data(data))
        prefix = (self.prefix if self.env_prefix is None else self.env_prefix).upper() + "_"
        self._set_level("env", env_settings(os.environ, shape, prefix), stack=False, merge=True)

    def set_project_location(self, path: str | os.PathLike[str] | None) -> None:
        """Say where `load_project` looks for the project file."""
        self._locations["project"] = os.fspath(path) if path is not None else None

    def set_runtime_path(self, path: str | os.PathLike[str] | None) -> None:
        """Say which file `load_runtime` loads."""
        self._locations["runtime"] = os.fspath(path) if path is not None else None

    def set_runtime_ssh_path(self, path: str | os.PathLike[str] | None) -> None:
        """Read only this ssh_config file (Fabric's `-S`); None leaves the choice as it is."""
        if path is not None:
            self.load_overrides({"ssh_config_path": os.fspath(path)})

    def load_ssh_config(self) -> None:
        """Do nothing: corral reads ssh_config for each host as it connects (Fabric's
        `load_ssh_config` has nothing left to do)."""

    def clone(self, into: type[Config] | None = None) -> Config:
        """Return an independent copy of this Config (as an instance of `into`, if given)."""
        cls = into if into is not None else type(self)
        copy = cls.__new__(cls)
        DataProxy.__init__(copy, copy_data(self._data), "", copy)
        object.__setattr__(copy, "_levels", list(self._levels))  # levels are never changed
        object.__setattr__(copy, "_modifications", copy_data(self._modifications))
        object.__setattr__(copy, "_locations", dict(self._locations))
        return copy

    def with_host_vars(self, host_vars: Mapping[str, Any], source: str = "inventory") -> Config:
        """Return a copy with a host's vars at the inventory level.

        That level sits above the config files and below environment variables, `-f`,
        command-line flags, `--set`, overrides and `merge()`: a var reaches `c.config` unless
        one of those sets the same key. Values for corral's own keys are checked (`source`
        names the host in the error).
        """
        copy = self.clone()
        copy._set_level("inventory", checked_host_vars(host_vars, source), stack=False, merge=True)
        return copy


def checked_host_vars(host_vars: Mapping[str, Any], source: str = "inventory") -> dict[str, Any]:
    """Return a host's inventory vars as config data: copied, checked, secrets wrapped."""
    data = wrap_secrets(copy_data(dict(host_vars)))
    validate(data, source)
    return data


def _rank(name: str) -> int:
    return LEVELS.index(name)


def _flatten(data: Mapping[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield (dotted key, value) for every leaf of nested mappings (empty ones are leaves)."""
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            yield from _flatten(value, f"{prefix}{key}.")
        else:
            yield f"{prefix}{key}", copy_data(value)
