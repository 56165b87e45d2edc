"""From inventory sources and a pattern to the hosts to run on, with each host's connection
settings and config: what `corral -G PATTERN --limit L` (and `--list-hosts`) needs before
anything connects."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config
from .builder import CONFIG_SECTIONS, LABELS_VAR, RESERVED_CONFIG_KEYS
from .inventory import Inventory
from .model import InventoryHost
from .selector import FactsLookup
from .sources import Source


def host_config(host: InventoryHost) -> dict[str, Any]:
    """Return what a host's vars put in its Config (the inventory level).

    Every var but the connection keys (user, port, gateway, connect_kwargs, ...: the
    inventory's own settings shape the Connection), `ansible_*` vars and corral_labels;
    plus sudo.user / sudo.password / connect_kwargs.password from ansible_become_* and
    ansible_password.
    """
    data: dict[str, Any] = {
        key: value
        for key, value in host.vars.items()
        if key not in RESERVED_CONFIG_KEYS
        and not key.startswith("ansible_")
        and key != LABELS_VAR
        and (key not in CONFIG_SECTIONS or isinstance(value, Mapping))
    }
    for section, values in host.config.items():
        existing = data.get(section)
        merged = dict(existing) if isinstance(existing, Mapping) else {}
        merged.update(values)
        data[section] = merged
    return data


@dataclass(frozen=True)
class Selection:
    """The hosts a pattern selected from an inventory, in order."""

    inventory: Inventory
    hosts: tuple[InventoryHost, ...]
    pattern: str
    limit: str | None = None

    @property
    def names(self) -> list[str]:
        """The selected hosts' names, in order (what `--list-hosts` prints)."""
        return [host.name for host in self.hosts]

    def __len__(self) -> int:
        return len(self.hosts)


def select_targets(
    sources: Sequence[Source],
    pattern: str,
    limit: str | None = None,
    *,
    config: Config | None = None,
    project_dir: str | Path | None = None,
    facts: FactsLookup | None = None,
    inventory: Inventory | None = None,
) -> Selection:
    """Load the inventory (or use `inventory`) and select the hosts of `pattern` and `limit`.

    Raises InventoryError for a bad source and SelectionError (with the closest names) for
    an unknown name or an empty selection, before anything connects.
    """
    if inventory is None:
        inventory = Inventory.load(*sources, config=config, project_dir=project_dir)
    hosts = inventory.select_hosts(pattern, limit, facts=facts)
    return Selection(inventory, tuple(hosts), pattern, limit)
