"""`Config`: nested settings with attribute and dict access, merged from levels."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from .defaults import SECRET_KEYS, global_defaults
from .schema import validate, wrap_secrets
from .secret import MASK, Secret


def copy_data(value: Any) -> Any:
    """Copy nested dicts and lists; other values (streams, Connections) are shared, not copied."""
    if isinstance(value, Mapping):
        return {key: copy_data(item) for key, item in value.items()}
    if isinstance(value, list):
        return [copy_data(item) for item in value]
    return value


def merge_dicts(base: dict[str, Any], updates: Mapping[str, Any]) -> dict[str, Any]:
    """Merge `updates` into `base` in place, recursing into nested dicts; return `base`."""
    for key, value in updates.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            merge_dicts(base[key], value)
        elif isinstance(value, Mapping):
            base[key] = merge_dicts({}, value)
        else:
            base[key] = value
    return base


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

    __slots__ = ("_data", "_path")

    def __init__(self, data: dict[str, Any], path: str = "") -> None:
        object.__setattr__(self, "_data", data)
        object.__setattr__(self, "_path", path)

    def _wrap(self, key: str, value: Any) -> Any:
        if isinstance(value, dict):
            return DataProxy(value, f"{self._path}{key}.")
        return value

    def __getattr__(self, key: str) -> Any:
        try:
            return self._wrap(key, self._data[key])
        except KeyError:
            raise AttributeError(
                f"no config key {self._path}{key!s}; known: {', '.join(sorted(self._data))}"
            ) from None

    def __setattr__(self, key: str, value: Any) -> None:
        self._data[key] = value

    def __getitem__(self, key: str) -> Any:
        return self._wrap(key, self._data[key])

    def __setitem__(self, key: str, value: Any) -> None:
        self._data[key] = value

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

    def to_dict(self) -> dict[str, Any]:
        """Return a copy of the data as plain dicts and lists."""
        data: dict[str, Any] = copy_data(self._data)
        return data

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {_masked(self._data, self._path)!r}>"


class Config(DataProxy):
    """corral's settings: defaults merged with overrides (Fabric's `Config(overrides=...)`).

    A Config remembers which of its settings came from levels that beat an inventory's host
    vars (overrides, `merge()`, and when loaded: environment variables, `-f`, flags and
    `--set`), so that `with_host_vars` can slot a host's vars in below them.
    """

    __slots__ = ("_pinned",)

    def __init__(
        self,
        overrides: Mapping[str, Any] | None = None,
        defaults: Mapping[str, Any] | None = None,
    ) -> None:
        data = global_defaults() if defaults is None else copy_data(dict(defaults))
        pinned: dict[str, Any] = {}
        if overrides:
            merge_dicts(data, copy_data(dict(overrides)))
            pinned = copy_data(dict(overrides))
        super().__init__(data)
        object.__setattr__(self, "_pinned", pinned)

    @staticmethod
    def global_defaults() -> dict[str, Any]:
        """Return corral's built-in defaults."""
        return global_defaults()

    def clone(self) -> Config:
        """Return an independent copy of this Config."""
        return with_pinned(Config(defaults=self._data), self._pinned)

    def merge(self, updates: Mapping[str, Any]) -> None:
        """Merge a nested mapping into this Config, in place (above host vars)."""
        merge_dicts(self._data, copy_data(dict(updates)))
        merge_dicts(self._pinned, copy_data(dict(updates)))

    def with_host_vars(self, host_vars: Mapping[str, Any], source: str = "inventory") -> Config:
        """Return a copy with a host's vars merged in at the inventory level.

        That level sits above the config files and below environment variables, `-f`,
        command-line flags, `--set` and overrides: a var reaches `c.config` unless one of
        those sets the same key. Values for corral's own keys are checked (`source` names
        the host in the error).
        """
        data = copy_data(self._data)
        merge_dicts(data, checked_host_vars(host_vars, source))
        merge_dicts(data, copy_data(self._pinned))
        return with_pinned(Config(defaults=data), self._pinned)


def checked_host_vars(host_vars: Mapping[str, Any], source: str = "inventory") -> dict[str, Any]:
    """Return a host's inventory vars as config data: copied, checked, secrets wrapped."""
    data = wrap_secrets(copy_data(dict(host_vars)))
    validate(data, source)
    return data


def with_pinned(config: Config, pinned: Mapping[str, Any]) -> Config:
    """Mark `pinned` as the settings of `config` that host vars must not override."""
    object.__setattr__(config, "_pinned", copy_data(dict(pinned)))
    return config
