"""Merging: what a host's groups give it (vars, labels, settings, config, and where each
came from), its own values on top, as an InventoryHost."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from .draft import Draft, HostDraft
from .model import ALL, InventoryHost, Origin


class Layered(Mapping[str, Origin]):
    """A host's origins over its groups' merged ones, without copying them for each host."""

    __slots__ = ("_base", "_top")

    def __init__(self, top: Mapping[str, Origin], base: Mapping[str, Origin]) -> None:
        self._top = top
        self._base = base

    def __getitem__(self, key: str) -> Origin:
        found = self._top.get(key)
        return found if found is not None else self._base[key]

    def __iter__(self) -> Iterator[str]:
        yield from self._base
        yield from (key for key in self._top if key not in self._base)

    def __len__(self) -> int:
        return len(self._base) + sum(1 for key in self._top if key not in self._base)

    def __repr__(self) -> str:
        return repr(dict(self))


def merged_config(
    into: dict[str, dict[str, Any]], config: Mapping[tuple[str, str], Any]
) -> dict[str, dict[str, Any]]:
    """Merge (section, key) -> value config entries into nested sections; return `into`."""
    for (section, key), value in config.items():
        into.setdefault(section, {})[key] = value
    return into


class Merged:
    """What a set of groups gives its hosts: vars, labels, settings, config and origins."""

    __slots__ = ("config", "groups", "labels", "origins", "settings", "shared", "vars")

    def __init__(self, drafts: Sequence[Draft]) -> None:
        self.groups = tuple(d.name for d in drafts if d.name != ALL)
        self.vars: dict[str, Any] = {}
        self.labels: dict[str, str] = {}
        self.settings: dict[str, Any] = {}
        self.config: dict[str, dict[str, Any]] = {}
        self.origins: dict[str, Origin] = {}
        for draft in drafts:
            self.vars.update(draft.vars)
            self.labels.update(draft.labels)
            self.settings.update(draft.derived)
            self.settings.update(draft.settings)  # explicit settings beat ansible_* vars
            merged_config(self.config, draft.config)
            self.origins.update(draft.origins)
        #: Read-only views, shared by every host of these groups with nothing of its own.
        self.shared: tuple[Mapping[str, Any], ...] = (
            MappingProxyType(self.vars),
            MappingProxyType(self.labels),
            MappingProxyType(self.origins),
            MappingProxyType(self.config),
        )

    def host(self, draft: HostDraft) -> InventoryHost:
        """Return the InventoryHost of a host in these groups, its own values on top."""
        vars_, labels, origins, config = self.shared
        settings = self.settings
        if draft.origins:  # it has values of its own
            if draft.vars:
                vars_ = MappingProxyType({**self.vars, **draft.vars})
            if draft.labels:
                labels = MappingProxyType({**self.labels, **draft.labels})
            if draft.derived or draft.settings:
                settings = {**settings, **draft.derived, **draft.settings}
            if draft.config:
                nested = {section: dict(keys) for section, keys in self.config.items()}
                config = MappingProxyType(merged_config(nested, draft.config))
            origins = Layered(draft.origins, self.origins)
        get = settings.get
        return InventoryHost(
            draft.name,
            get("address"),
            get("port"),
            get("user"),
            get("key_file"),
            get("gateway"),
            labels,
            vars_,
            self.groups,
            origins,
            config,
        )
