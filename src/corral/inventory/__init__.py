"""Inventories: hosts and groups named once (corral YAML, Ansible INI/YAML, dynamic scripts,
ssh_config, Python hooks), their vars merged with where each came from, and host patterns
that select from them. Pure and local: nothing here connects to a host."""

from .builder import InventoryBuilder
from .inventory import Inventory
from .model import ALL, UNGROUPED, HostTable, InventoryGroup, InventoryHost, Origin
from .ranges import MAX_HOSTS, count_range, expand_range
from .selection import Selection, host_config, select_targets
from .selector import (
    FACT_ROOTS,
    FactsLookup,
    needs_facts,
    parse_pattern,
    select,
    split_pattern,
    without_facts,
)
from .sources import (
    DEFAULT_FILES,
    SSH_CONFIG,
    Source,
    default_sources,
    inventory_hook,
    inventory_sources,
    is_inventory_hook,
    load_inventory,
)

__all__ = [
    "ALL",
    "DEFAULT_FILES",
    "FACT_ROOTS",
    "MAX_HOSTS",
    "SSH_CONFIG",
    "UNGROUPED",
    "FactsLookup",
    "HostTable",
    "Inventory",
    "InventoryBuilder",
    "InventoryGroup",
    "InventoryHost",
    "Origin",
    "Selection",
    "Source",
    "count_range",
    "default_sources",
    "expand_range",
    "host_config",
    "inventory_hook",
    "inventory_sources",
    "is_inventory_hook",
    "load_inventory",
    "needs_facts",
    "parse_pattern",
    "select",
    "select_targets",
    "split_pattern",
    "without_facts",
]
