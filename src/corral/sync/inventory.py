"""`corral.Inventory`: the blocking twin, whose selections are `corral.Group`s."""

from __future__ import annotations

from collections.abc import Sequence

from ..config import Config
from ..inventory import Inventory as InventoryModel
from ..inventory import InventoryHost
from ..inventory.selector import FactsLookup
from ..remote import group as engine
from ..remote.inventory import connect_hosts
from ..runner.options import Unpack
from .connection import Connection
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
        e.g. from `inventory.select("all").facts()`.
        """
        hosts = self.select_hosts(pattern, limit, facts=facts)
        return Group.from_connections(self.connections(hosts, config=config), **limits)

    def connections(
        self, hosts: Sequence[InventoryHost] | None = None, *, config: Config | None = None
    ) -> list[Connection]:
        """Return a Connection for each host (every host of the inventory by default)."""
        made = connect_hosts(self, self.hosts if hosts is None else hosts, config)
        return [Connection._facade(conn) for conn in made]
