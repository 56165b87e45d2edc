"""`Inventory`: the fleet named once: loaded from its sources, selected with host patterns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from ..config import Config
from .model import HostTable, InventoryHost
from .selector import FactsLookup, needs_facts, select
from .sources import Source, load_inventory

InventoryT = TypeVar("InventoryT", bound="Inventory")


class Inventory(HostTable):
    """Hosts and groups, resolved: the fleet named once, selected with host patterns."""

    @classmethod
    def load(
        cls: type[InventoryT],
        *sources: Source,
        config: Config | None = None,
        project_dir: str | Path | None = None,
    ) -> InventoryT:
        """Load and merge inventory sources (later ones win) into an Inventory.

        A source is a file (corral YAML, Ansible INI or YAML, JSON), a directory of them, an
        executable dynamic inventory, "@ssh_config", a callable (a hook), or a hook's module
        path "pkg.mod:function". Without sources: config `inventory.sources` (and
        `inventory.hook`), else inventory.yaml/.yml/.ini or hosts in `project_dir` (default:
        the current directory), else "@ssh_config".
        """
        loaded = load_inventory(sources, config=config, project_dir=project_dir)
        return cls(
            loaded._hosts,
            loaded._groups,
            sources=loaded.sources,
            warnings=loaded.warnings,
            config=config,
        )

    # ------------------------------------------------------------------ selection

    def select_hosts(
        self,
        pattern: str,
        limit: str | None = None,
        *,
        facts: FactsLookup | None = None,
        host_lists: Mapping[str, Sequence[str]] | None = None,
    ) -> list[InventoryHost]:
        """Return the hosts a pattern selects (`--limit` narrows it further), in order.

        Patterns are Ansible's (`web:&prod:!web03`, `~regex`, globs, `all`) plus `key=value`
        / `key!=value` on labels, vars and (given `facts`) facts. An unknown name, or a
        selection with no host, raises SelectionError naming the closest names. `host_lists`
        names lists of hosts for `@NAME` terms (the command line's `@failed`).
        """
        names = select(self, pattern, limit, facts=facts, host_lists=host_lists)
        return [self._hosts[name] for name in names]

    def needs_facts(self, pattern: str, limit: str | None = None) -> bool:
        """True when the pattern (or limit) matches on facts, which must be gathered first."""
        return needs_facts(pattern) or (limit is not None and needs_facts(limit))
