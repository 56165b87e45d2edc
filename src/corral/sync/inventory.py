"""`corral.Inventory`, the blocking twin whose selections are `corral.Group`s, and
`plan_hosts`: what the command line's -G/--limit/--list-hosts need, before running."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config
from ..inventory import Inventory as InventoryModel
from ..inventory import InventoryHost, inventory_sources
from ..inventory.selector import FactsLookup
from ..remote import group as engine
from ..remote.connection import Connection as AsyncConnection
from ..remote.inventory import Inventory as AsyncInventory
from ..remote.inventory import connect_hosts
from ..result import GroupResult
from ..runner.options import Unpack
from .connection import Connection
from .facade import call
from .group import Group


class Inventory(InventoryModel):
    """Hosts and groups from inventory sources; `select` returns a `corral.Group`."""

    def select(
        self,
        pattern: str = "all",
        limit: str | None = None,
        *,
        facts: FactsLookup | None = None,
        config: Config | None = None,
        **limits: Unpack[engine.GroupKwargs],
    ) -> Group:
        """Return a Group of the hosts `pattern` (and `limit`) select, ready to run on.

        Each Connection carries its host's vars (`host_vars`, and its Config); nothing
        connects until the group is used. Fact matches (`os.family=debian`) need `facts`,
        e.g. from `inventory.gather_facts(pattern)`.
        """
        hosts = self.select_hosts(pattern, limit, facts=facts)
        connections = connect_hosts(self, hosts, config, facts=facts)
        return Group.from_connections([Connection.twin(c) for c in connections], **limits)

    def gather_facts(
        self,
        pattern: str = "all",
        limit: str | None = None,
        *,
        config: Config | None = None,
        host_lists: Mapping[str, Sequence[str]] | None = None,
        **limits: Unpack[engine.GroupKwargs],
    ) -> GroupResult:
        """Gather the facts of every host the pattern may select (its fact matches left
        out), for `select(pattern, facts=...)`; this connects to those hosts."""
        twin = AsyncInventory(self._hosts, self._groups, config=self.config)
        return call(
            twin.gather_facts, pattern, limit, config=config, host_lists=host_lists, **limits
        )

    def connections(
        self, hosts: Sequence[InventoryHost] | None = None, *, config: Config | None = None
    ) -> list[Connection]:
        """Return a Connection for each host (every host of the inventory by default)."""
        made = connect_hosts(self, self.hosts if hosts is None else hosts, config)
        return [Connection.twin(conn) for conn in made]


@dataclass(frozen=True)
class HostPlan:
    """The hosts a command line selected from its inventory, ready to connect to."""

    inventory: Inventory
    hosts: tuple[InventoryHost, ...]
    #: Facts gathered to evaluate the pattern's fact matches, if it had any.
    facts: GroupResult | None = None

    @property
    def names(self) -> list[str]:
        """The hosts' names, in order (what --list-hosts prints, and -H would be)."""
        return [host.name for host in self.hosts]

    def connections(self, config: Config | None = None) -> dict[str, AsyncConnection]:
        """Return each host's (async) Connection by name, for `Executor(connections=...)`."""
        made = connect_hosts(self.inventory, self.hosts, config, facts=self.facts)
        return {conn.original_host: conn for conn in made}


def plan_hosts(
    pattern: str,
    limit: str | None = None,
    *,
    sources: Sequence[str] = (),
    config: Config,
    project_dir: str | Path | None = None,
    hooks: Sequence[Callable[..., Any]] = (),
    gather_facts: bool = True,
    host_lists: Mapping[str, Sequence[str]] | None = None,
) -> HostPlan:
    """Load the inventory and select `pattern` narrowed by `limit` (corral -G P --limit L).

    Sources: `sources` (--inventory), else config's, else the project's inventory file,
    else @ssh_config; the corralfile's `hooks` are added. An unknown name or an empty
    selection raises SelectionError before anything connects. A pattern that matches on
    facts connects to its candidate hosts to gather them first (`gather_facts=False`:
    SelectionError instead, e.g. for --list-hosts). `host_lists` names lists of hosts for
    `@NAME` terms (the command line's `@failed`).
    """
    chosen = inventory_sources(sources, config=config, project_dir=project_dir, hooks=hooks)
    inventory = Inventory.load(*chosen, config=config, project_dir=project_dir)
    facts = None
    if gather_facts and inventory.needs_facts(pattern, limit):
        facts = inventory.gather_facts(pattern, limit, config=config, host_lists=host_lists)
    hosts = inventory.select_hosts(pattern, limit, facts=facts, host_lists=host_lists)
    return HostPlan(inventory, tuple(hosts), facts)
