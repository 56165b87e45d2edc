"""Drafts: a host or a group as the inventory sources describe it, before resolution."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, cast

from .model import ALL, Origin

#: The empty values of a draft that sets none (read-only: writers replace it first).
NONE: dict[Any, Any] = cast("dict[Any, Any]", MappingProxyType({}))


def writable(table: dict[Any, Any]) -> dict[Any, Any]:
    """Return `table`, or a new dict in place of the shared empty one."""
    return {} if table is NONE else table


class Draft:
    """A host or group as the sources describe it, before resolution.

    Values are kept plain (merging them is a dict update); where each came from is in
    `origins`, keyed as InventoryHost.origins is: "vars.NAME", "labels.NAME", a setting's
    name ("address", ...), "config.SECTION.KEY".
    """

    __slots__ = ("config", "derived", "labels", "name", "origin", "origins", "scope", "settings",
                 "vars")  # fmt: skip

    def __init__(self, name: str, origin: Origin, scope: str) -> None:
        self.name = name
        #: "host web01", "group web" or "all": the scope of the origins of its values.
        self.scope = scope
        self.origin = self.at(origin)
        self.vars: dict[str, Any] = {}
        self.origins: dict[str, Origin] = {}
        # Most hosts set none of these: they share one read-only empty mapping until a
        # writer gives them their own (writable()); 10,000 hosts, 40,000 dicts fewer.
        self.labels: dict[str, str] = NONE
        #: Settings given as such (corral's format): they beat ones read from ansible_* vars.
        self.settings: dict[str, Any] = NONE
        #: Settings read from ansible_* vars.
        self.derived: dict[str, Any] = NONE
        #: Config keys set through ansible_* vars: (section, key) -> value.
        self.config: dict[tuple[str, str], Any] = NONE

    def at(self, origin: Origin) -> Origin:
        """Return `origin` with this draft as its scope."""
        if origin.scope == self.scope:
            return origin
        return Origin(origin.source, origin.line, self.scope)


class HostDraft(Draft):
    """A host as described so far."""

    __slots__ = ()

    def __init__(self, name: str, origin: Origin) -> None:
        super().__init__(name, origin, f"host {name}")


class GroupDraft(Draft):
    """A group as described so far; `defined` is False while it is only referred to."""

    __slots__ = ("children", "defined", "hosts", "priority")

    def __init__(self, name: str, origin: Origin) -> None:
        super().__init__(name, origin, "all" if name == ALL else f"group {name}")
        self.hosts: dict[str, None] = {}
        self.children: dict[str, Origin] = {}
        self.defined = False
        #: Ansible's ansible_group_priority: among groups at one depth, the higher wins.
        self.priority = 1
