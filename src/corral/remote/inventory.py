"""`corral.aio.Inventory`: an inventory whose selections are Groups of Connections, each
host's Connection made from its inventory settings, with its vars in `host_vars` and in its
own Config (at the inventory level), and gateways that name inventory hosts shared."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ..config import Config
from ..errors import InventoryError
from ..inventory import Inventory as InventoryModel
from ..inventory import InventoryHost, host_config, without_facts
from ..inventory.selector import FactsLookup
from ..result import GroupResult
from ..runner.options import Unpack
from .connection import Connection
from .facts import Facts
from .gateway import shared_hops
from .group import Group, GroupKwargs


def _known_facts(facts: Any) -> dict[str, Facts]:
    """Facts already gathered, by host name (a GroupResult is keyed by Connection)."""
    if facts is None or callable(facts):
        return {}
    found = {}
    for key, value in facts.items():
        if isinstance(value, Facts):
            found[str(getattr(key, "original_host", key))] = value
    return found


class _Builder:
    """Makes each host's Connection; a gateway named by several hosts is made once."""

    def __init__(
        self, inventory: InventoryModel, config: Config, facts: dict[str, Facts] | None = None
    ) -> None:
        self.inventory = inventory
        self.config = config
        self.facts = facts or {}
        self.gateways: dict[tuple[str, int], Connection] = {}

    def connection(self, host: InventoryHost, chain: tuple[str, ...] = ()) -> Connection:
        config = self.config.with_host_vars(host_config(host), f"inventory host {host.name}")
        connect_kwargs = None
        if host.key_file:
            connect_kwargs = dict(config.get("connect_kwargs") or {})
            keys = connect_kwargs.get("key_filename") or []
            keys = [keys] if isinstance(keys, str) else list(keys)
            connect_kwargs["key_filename"] = [os.path.expanduser(host.key_file), *keys]
        conn = Connection(
            host.name,
            user=host.user,
            port=host.port,
            config=config,
            gateway=self.gateway(host, (*chain, host.name)),
            connect_kwargs=connect_kwargs,
            hostname=host.address,
            host_vars=host.vars,
        )
        conn.use_facts(self.facts.get(host.name))  # gathered for the selection: not again
        return conn

    def gateway(self, host: InventoryHost, chain: tuple[str, ...]) -> Connection | str | None:
        spec = host.gateway
        if spec is None or spec.strip().lower() == "none":
            return spec
        if any(char.isspace() for char in spec.strip()):
            return spec  # a ProxyCommand: "ssh -W %h:%p bastion"
        hops = [part.strip().removeprefix("ssh://") for part in spec.split(",") if part.strip()]
        if hops == [host.name]:
            # The bastion itself, in a group whose hosts go through it: it is reached as if
            # the inventory named no gateway (its ssh_config still applies), as with ssh -J.
            return None
        previous: Connection | None = None
        for hop in hops:
            previous = self.hop(hop, previous, chain)
        return previous

    def hop(self, name: str, previous: Connection | None, chain: tuple[str, ...]) -> Connection:
        """Return the Connection of one gateway hop (an inventory host, or an alias)."""
        if name in chain:
            cycle = " -> ".join([*chain[chain.index(name) :], name])
            origin = self.inventory.host(chain[-1]).origin("gateway")
            raise InventoryError(
                f"gateway cycle: {cycle} (a host cannot be reached through itself)",
                source=origin.source if origin else None,
                line=origin.line if origin else None,
                entry=f"host {chain[-1]}",
            )
        key = (name, id(previous) if previous is not None else 0)
        made = self.gateways.get(key)
        if made is not None:
            return made
        if previous is None and self.inventory.has_host(name):
            made = self.connection(self.inventory.host(name), chain)
        else:
            made = Connection(name, config=self.config.clone(), gateway=previous)
        # Shared by every host behind it, closed with the last of them (as ProxyJump hops).
        shared_hops.adopt(made)
        self.gateways[key] = made
        return made


def connect_hosts(
    inventory: InventoryModel,
    hosts: Iterable[InventoryHost],
    config: Config | None = None,
    *,
    facts: FactsLookup | None = None,
) -> list[Connection]:
    """Return a Connection per host: its address, port, user, key and gateway, its vars in
    `host_vars`, its own Config with those vars merged at the inventory level, and its
    facts when `facts` has them. Nothing connects yet."""
    base = config if config is not None else inventory.config or Config()
    builder = _Builder(inventory, base, _known_facts(facts))
    return [builder.connection(host) for host in hosts]


class Inventory(InventoryModel):
    """Hosts and groups from inventory sources; `select` returns a `corral.aio.Group`."""

    def select(
        self,
        pattern: str = "all",
        limit: str | None = None,
        *,
        facts: FactsLookup | None = None,
        config: Config | None = None,
        **limits: Unpack[GroupKwargs],
    ) -> Group:
        """Return a Group of the hosts `pattern` (and `limit`) select, ready to run on.

        Each Connection carries its host's vars (`host_vars`, and its Config); nothing
        connects until the group is used. Fact matches (`os.family=debian`) need `facts`,
        e.g. from `await inventory.select("all").facts()`.
        """
        hosts = self.select_hosts(pattern, limit, facts=facts)
        connections = connect_hosts(self, hosts, config, facts=facts)
        return Group.from_connections(connections, **limits)

    async def gather_facts(
        self,
        pattern: str = "all",
        limit: str | None = None,
        *,
        config: Config | None = None,
        host_lists: Mapping[str, Sequence[str]] | None = None,
        **limits: Unpack[GroupKwargs],
    ) -> GroupResult:
        """Gather the facts of every host the pattern may select (its fact matches left
        out), for `select(pattern, facts=...)`; this connects to those hosts."""
        hosts = self.select_hosts(
            without_facts(pattern), limit and without_facts(limit), host_lists=host_lists
        )
        async with Group.from_connections(connect_hosts(self, hosts, config)) as group:
            return await group.facts(**limits)

    def connections(
        self, hosts: Sequence[InventoryHost] | None = None, *, config: Config | None = None
    ) -> list[Connection]:
        """Return a Connection for each host (every host of the inventory by default)."""
        return connect_hosts(self, self.hosts if hosts is None else hosts, config)
