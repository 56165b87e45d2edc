"""The resolved inventory: hosts with their merged vars (and where each came from), groups.

`Inventory` is built by `InventoryBuilder` (builder.py) from the sources (sources/); it never
changes afterwards. Selection (selector.py) reads it; nothing here connects anywhere.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from ..errors import SelectionError

if TYPE_CHECKING:
    from ..config import Config

#: The group every host belongs to, and the one for hosts in no other group (Ansible's names).
ALL = "all"
UNGROUPED = "ungrouped"

_EMPTY: Mapping[str, Any] = MappingProxyType({})


# Origin and InventoryHost are NamedTuples, not frozen dataclasses: an inventory of 10,000
# hosts makes tens of thousands of them, and a tuple is made 2-4x faster (measured here).


class Origin(NamedTuple):
    """Where a value was set: a source (file, script, hook), its line, and the scope."""

    source: str
    line: int | None = None
    #: "host web01", "group web", or "all"
    scope: str = ""

    @property
    def location(self) -> str:
        """`file:line`, or the source alone when there is no line."""
        return f"{self.source}:{self.line}" if self.line is not None else self.source

    def __str__(self) -> str:
        return f"{self.location} ({self.scope})" if self.scope else self.location


class InventoryHost(NamedTuple):
    """One host of an inventory: how to reach it, its labels, merged vars and groups.

    Connection settings left as None are not set by the inventory: the Connection takes them
    from ssh_config and config as usual (the name then works as an ssh_config alias).
    """

    name: str
    #: The address to connect to (Ansible's ansible_host); None: the name itself.
    address: str | None = None
    port: int | None = None
    user: str | None = None
    #: A private key file (Ansible's ansible_ssh_private_key_file).
    key_file: str | None = None
    #: How to reach the host: an inventory host's name, an ssh_config alias, a ProxyJump
    #: list (`a,b`), a ProxyCommand (`ssh -W %h:%p bastion`), or "none" for directly.
    gateway: str | None = None
    labels: Mapping[str, str] = _EMPTY
    #: Merged vars: all < group < child group < host (Ansible's order).
    vars: Mapping[str, Any] = _EMPTY
    #: Every group the host is in (transitively, without "all"), in the order vars merge.
    groups: tuple[str, ...] = ()
    #: Where each var, label and setting came from: "vars.NAME", "labels.NAME", "address", ...
    origins: Mapping[str, Origin] = _EMPTY
    #: Settings for this host's Config (sudo.password from ansible_become_password, ...).
    config: Mapping[str, Any] = _EMPTY

    def origin(self, key: str) -> Origin | None:
        """Return where a var (`NAME`), label (`labels.NAME`) or setting came from."""
        return self.origins.get(f"vars.{key}") or self.origins.get(key)


@dataclass(frozen=True, slots=True)
class InventoryGroup:
    """A group: its own hosts and child groups, and the vars it sets on all of them."""

    name: str
    hosts: tuple[str, ...] = ()
    children: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()
    vars: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    labels: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    #: Connection settings the group gives its hosts (port, user, key_file, gateway).
    settings: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    #: Distance from "all" (the longest path): deeper groups' vars win.
    depth: int = 0
    #: Ansible's ansible_group_priority: among groups at one depth, higher wins.
    priority: int = 1
    origin: Origin | None = None


class HostTable:
    """Hosts and groups, resolved, with their lookups (`Inventory` adds loading and selection)."""

    def __init__(
        self,
        hosts: Mapping[str, InventoryHost],
        groups: Mapping[str, InventoryGroup],
        *,
        sources: Sequence[str] = (),
        warnings: Sequence[str] = (),
        config: Config | None = None,
    ) -> None:
        self._hosts = dict(hosts)
        self._groups = dict(groups)
        self._members: dict[str, tuple[str, ...]] = {}
        #: The Config it was loaded with: the base of each selected host's Config.
        self.config = config
        #: The sources it was loaded from, as given.
        self.sources: tuple[str, ...] = tuple(sources)
        #: Things worth knowing that did not stop loading (unknown ansible_* keys, ...).
        self.warnings: tuple[str, ...] = tuple(warnings)

    # ------------------------------------------------------------------ lookups

    @property
    def hosts(self) -> list[InventoryHost]:
        """Every host, in the order they were defined."""
        return list(self._hosts.values())

    @property
    def groups(self) -> list[InventoryGroup]:
        """Every group ("all" and "ungrouped" included), in the order they were defined."""
        return list(self._groups.values())

    @property
    def host_names(self) -> list[str]:
        """Every host's name, in order."""
        return list(self._hosts)

    @property
    def group_names(self) -> list[str]:
        """Every group's name, in order."""
        return list(self._groups)

    def has_host(self, name: str) -> bool:
        """True when a host of this name exists."""
        return name in self._hosts

    def has_group(self, name: str) -> bool:
        """True when a group of this name exists."""
        return name in self._groups

    def host(self, name: str) -> InventoryHost:
        """Return a host by name; an unknown name raises SelectionError with the closest."""
        found = self._hosts.get(name)
        if found is None:
            raise SelectionError(
                f"no host named {name!r} in the inventory",
                pattern=name,
                suggestions=self.closest(name),
            )
        return found

    def group(self, name: str) -> InventoryGroup:
        """Return a group by name; an unknown name raises SelectionError with the closest."""
        found = self._groups.get(name)
        if found is None:
            raise SelectionError(
                f"no group named {name!r} in the inventory",
                pattern=name,
                suggestions=self.closest(name),
            )
        return found

    def members(self, group: str) -> tuple[str, ...]:
        """Return the names of every host of a group, its children's included, in order."""
        cached = self._members.get(group)
        if cached is not None:
            return cached
        # Ansible's order: the group's own hosts, then its children's, level by level.
        seen: dict[str, None] = {}
        level = [group]
        visited = {group}
        while level:
            following: list[str] = []
            for current in level:
                node = self._groups[current]
                seen.update(dict.fromkeys(node.hosts))
                for child in node.children:
                    if child not in visited:
                        visited.add(child)
                        following.append(child)
            level = following
        names = tuple(seen)
        self._members[group] = names
        return names

    def closest(self, name: str, n: int = 3) -> tuple[str, ...]:
        """Return up to `n` host or group names close to `name` (for "did you mean")."""
        return tuple(difflib.get_close_matches(name, [*self._groups, *self._hosts], n=n))

    def subset(self, names: Iterable[str]) -> list[InventoryHost]:
        """Return the hosts of the given names, in the given order."""
        return [self.host(name) for name in names]

    def __len__(self) -> int:
        return len(self._hosts)

    def __contains__(self, name: object) -> bool:
        return name in self._hosts

    def __repr__(self) -> str:
        groups = len(self._groups) - sum(1 for g in (ALL, UNGROUPED) if g in self._groups)
        return f"<{type(self).__name__} {len(self._hosts)} hosts, {groups} groups>"
