"""`InventoryBuilder`: what the sources fill in (groups, hosts, vars, labels and settings, each
with where it came from), and its resolution into an `Inventory`.

Resolution checks that every child group is defined and that children form no cycle, puts
groups without a parent under "all" and hosts without a group in "ungrouped", and merges
each host's vars in Ansible's order: groups by (depth, ansible_group_priority, name), so
all < group < child group, then the host's own.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Iterable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

from ..config import Secret
from ..config.defaults import SECRET_KEYS, global_defaults
from ..config.schema import validate
from ..errors import ConfigError, InventoryError
from .draft import Draft, GroupDraft, HostDraft, writable
from .merge import Merged
from .model import ALL, UNGROUPED, HostTable, InventoryGroup, InventoryHost, Origin
from .settings import (
    ANSIBLE_CONFIG,
    ANSIBLE_IGNORED,
    ANSIBLE_SECRETS,
    ANSIBLE_SETTINGS,
    ANSIBLE_SSH_ARGS,
    GROUP_NAME,
    HOST_NAME,
    IDENTIFIER,
    check_setting,
    parse_ssh_args,
)

log = logging.getLogger("corral.inventory")

#: Top-level config keys a var may not set: they shape the Connection, which the inventory's
#: own settings (address, port, user, key_file, gateway) configure. A var `port: 8080` stays
#: a var (an application's port), never the SSH port.
RESERVED_CONFIG_KEYS = frozenset(
    {
        "user",
        "port",
        "gateway",
        "connect_kwargs",
        "forward_agent",
        "ssh_config_path",
        "load_ssh_configs",
        "user_ssh_path",
        "system_ssh_path",
        "host_key_policy",
        "inline_ssh_env",
        "inventory",
    }
)
_CONFIG_KEYS = frozenset(global_defaults()) - RESERVED_CONFIG_KEYS
#: Config keys that are sections (run, sudo, timeouts, keepalive): a var of that name that
#: is not a mapping is an ordinary var, not corral's setting.
CONFIG_SECTIONS = frozenset(k for k, v in global_defaults().items() if isinstance(v, dict))
#: The var that carries labels in formats that have none (Ansible's, and our JSON output).
LABELS_VAR = "corral_labels"


def _secret_vars(name: str, value: Any) -> Any:
    """Wrap the secrets inside a config-shaped var (`sudo: {password: ...}`) in Secret."""
    if not isinstance(value, Mapping):
        return value
    keys = [key for dotted in SECRET_KEYS for section, _, key in [dotted.partition(".")]
            if section == name]  # fmt: skip
    if not any(isinstance(value.get(k), str) for k in keys):
        return value
    return {k: Secret(v) if k in keys and isinstance(v, str) else v for k, v in value.items()}


class InventoryBuilder:
    """Collects what sources describe; `build()` resolves it into an Inventory."""

    def __init__(self) -> None:
        self.groups: dict[str, GroupDraft] = {}
        self.hosts: dict[str, HostDraft] = {}
        self.warnings: list[str] = []
        self._unused: dict[str, tuple[Origin, int, str]] = {}
        self._plain_names: set[str] = set()  # var names already checked: nothing special
        self._valid_names: set[str] = set()  # var names already checked: identifiers
        implicit = Origin("(implicit)")
        self.group(ALL, implicit).defined = True
        self.group(UNGROUPED, implicit).defined = True
        self.groups[ALL].children[UNGROUPED] = self.groups[ALL].origin  # first, as in Ansible

    # ------------------------------------------------------------------ filling in

    def group(self, name: str, origin: Origin, *, define: bool = True) -> GroupDraft:
        """Return the group of this name (made on first mention); `define`: it is declared here."""
        draft = self.groups.get(name)
        if draft is None:
            if not isinstance(name, str) or not GROUP_NAME.match(name):
                raise InventoryError(
                    "not a valid group name (letters, digits, '_', '-', '.'; "
                    "':' and ',' separate host patterns)",
                    source=origin.source,
                    line=origin.line,
                    entry=f"group {name!r}",
                )
            draft = GroupDraft(name, origin)
            self.groups[name] = draft
        if define and not draft.defined:
            draft.defined = True
            draft.origin = draft.at(origin)
        return draft

    def host(self, name: str, origin: Origin) -> HostDraft:
        """Return the host of this name (made on first mention)."""
        draft = self.hosts.get(name)
        if draft is None:
            if not isinstance(name, str) or not HOST_NAME.match(name):
                raise InventoryError(
                    "not a valid host name (letters, digits, '_', '.', '-', ':')",
                    source=origin.source,
                    line=origin.line,
                    entry=f"host {name!r}",
                )
            draft = HostDraft(name, origin)
            self.hosts[name] = draft
        return draft

    def add_member(self, group: GroupDraft, host: HostDraft) -> None:
        """Put a host in a group."""
        group.hosts[host.name] = None

    def add_child(self, parent: GroupDraft, child: str, origin: Origin) -> GroupDraft:
        """Make `child` a child group of `parent` (declared here or elsewhere)."""
        draft = self.group(child, origin, define=False)
        parent.children.setdefault(child, parent.at(origin))
        return draft

    def set_var(self, draft: Draft, name: Any, value: Any, origin: Origin) -> None:
        """Set a var on a host or group; ansible_* connection vars also set its settings."""
        where = draft.at(origin)
        if name in self._plain_names:  # a name seen before, neither special nor config
            draft.vars[name] = value
            draft.origins["vars." + name] = where
            return
        if name not in self._valid_names and (
            not isinstance(name, str) or not IDENTIFIER.match(name)
        ):
            raise InventoryError(
                f"var name {name!r} is not an identifier "
                "(letters, digits and '_', not starting with a digit)",
                source=origin.source,
                line=origin.line,
                entry=draft.scope,
            )
        self._valid_names.add(name)
        if name == "ansible_group_priority":
            if not isinstance(draft, GroupDraft):
                raise InventoryError(
                    "ansible_group_priority is a group's setting, not a host's",
                    source=origin.source,
                    line=origin.line,
                    entry=draft.scope,
                )
            if isinstance(value, bool) or not str(value).strip().lstrip("-").isdigit():
                raise InventoryError(
                    f"ansible_group_priority: expected a whole number, got {value!r}",
                    source=origin.source,
                    line=origin.line,
                    entry=draft.scope,
                )
            draft.priority = int(str(value).strip())  # the group's rank, not a var (as Ansible)
            return
        if name.startswith("ansible_"):
            self._ansible_var(draft, name, value, where)
            if name in ANSIBLE_SECRETS and value is not None:
                value = Secret(str(value))
        elif name == LABELS_VAR:
            if not isinstance(value, Mapping):
                raise InventoryError(
                    f"{LABELS_VAR} must be a mapping of labels, got {type(value).__name__}",
                    source=origin.source,
                    line=origin.line,
                    entry=draft.scope,
                )
            for key, label in value.items():
                self.set_label(draft, key, label, origin)
            return
        elif name in CONFIG_SECTIONS and not isinstance(value, Mapping):
            # `sudo: yes` in an Ansible inventory is not corral's sudo section: a var only
            self._note_unused(
                name,
                where,
                f"not a mapping, so not corral's {name} config section: kept as a var only",
            )
        elif name in _CONFIG_KEYS:
            try:
                validate({name: value}, f"{where}")
            except ConfigError as exc:
                raise InventoryError(
                    str(exc).removeprefix(f"{where}: "),
                    source=origin.source,
                    line=origin.line,
                    entry=draft.scope,
                ) from exc
            value = _secret_vars(name, value)
        else:
            self._plain_names.add(name)
        draft.vars[name] = value
        draft.origins["vars." + name] = where

    def set_vars(self, draft: Draft, items: Iterable[tuple[Any, Any]], origin: Origin) -> None:
        """Set several vars written at one place (a host line): set_var, in one loop."""
        where = draft.at(origin)
        plain, values, origins = self._plain_names, draft.vars, draft.origins
        for name, value in items:
            if name in plain:  # the common cases without a call: a plain var...
                values[name] = value
                origins["vars." + name] = where
                continue
            setting = ANSIBLE_SETTINGS.get(name)
            if setting is None or setting in draft.settings or setting in draft.derived:
                self.set_var(draft, name, value, where)
                continue
            # ... and an address, port, user or key file, set once
            draft.derived = writable(draft.derived)
            draft.derived[setting] = check_setting(setting, value, where, draft.scope)
            origins[setting] = where
            values[name] = value
            origins["vars." + name] = where

    def set_label(self, draft: Draft, key: Any, value: Any, origin: Origin) -> None:
        """Set a label (a string matched by `key=value` selections) on a host or group."""
        if not isinstance(key, str) or not IDENTIFIER.match(key):
            raise InventoryError(
                f"label name {key!r} is not an identifier (letters, digits and '_')",
                source=origin.source,
                line=origin.line,
                entry=draft.scope,
            )
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, int | float):
            value = str(value)
        if not isinstance(value, str):
            raise InventoryError(
                f"label {key}: expected a string, number or true/false, got {type(value).__name__}",
                source=origin.source,
                line=origin.line,
                entry=draft.scope,
            )
        draft.labels = writable(draft.labels)
        draft.labels[key] = value
        draft.origins["labels." + key] = draft.at(origin)

    def set_setting(self, draft: Draft, key: str, value: Any, origin: Origin) -> None:
        """Set a connection setting (address, port, user, key_file, gateway) given as such."""
        where = draft.at(origin)
        checked = check_setting(key, value, where, draft.scope)
        self._no_conflict(draft, key, checked, where)
        draft.settings = writable(draft.settings)
        draft.settings[key] = checked
        draft.origins[key] = where

    def warn(self, message: str) -> None:
        """Record something worth knowing that does not stop loading."""
        if message not in self.warnings:
            self.warnings.append(message)

    def _no_conflict(self, draft: Draft, key: str, value: Any, origin: Origin) -> None:
        """A host's address and port say which machine it is: two different ones are an error."""
        if key not in ("address", "port") or not isinstance(draft, HostDraft):
            return
        existing = draft.settings.get(key, draft.derived.get(key))
        before = draft.origins.get(key)
        if existing is None or existing == value or before is None:
            return
        if (before.source, before.line) == (origin.source, origin.line):
            return
        raise InventoryError(
            f"defined twice with different {key}es: {existing} ({before.location}) "
            f"and {value} ({origin.location})",
            source=origin.source,
            line=origin.line,
            entry=draft.scope,
        )

    def _ansible_var(self, draft: Draft, name: str, value: Any, where: Origin) -> None:
        setting = ANSIBLE_SETTINGS.get(name)
        if setting is not None:
            checked = check_setting(setting, value, where, draft.scope)
            self._no_conflict(draft, setting, checked, where)
            self._derive(draft, setting, checked, where)
        elif name in ANSIBLE_CONFIG:
            section, key = ANSIBLE_CONFIG[name]
            config_value = Secret(str(value)) if key == "password" else value
            draft.config = writable(draft.config)
            draft.config[(section, key)] = config_value
            draft.origins[f"config.{section}.{key}"] = where
        elif name in ANSIBLE_SSH_ARGS:
            args = parse_ssh_args(str(value))
            if args.gateway:
                self._derive(draft, "gateway", args.gateway, where)
            if args.ignored:
                self._note_unused(
                    name,
                    where,
                    f"ssh options {' '.join(args.ignored)!r} are not read from the inventory "
                    "(only ProxyJump/-J and ProxyCommand); put them in ssh_config",
                )
        elif name in ANSIBLE_IGNORED:
            allowed = ANSIBLE_IGNORED[name]
            if allowed is not None and str(value).lower() not in allowed:
                self._note_unused(
                    name, where, f"{name}={value} is not supported (corral connects over SSH)"
                )
        else:
            self._note_unused(name, where, "an Ansible setting corral does not use")

    @staticmethod
    def _derive(draft: Draft, setting: str, value: Any, where: Origin) -> None:
        """Set a setting read from an ansible_* var (one given as such keeps its origin)."""
        draft.derived = writable(draft.derived)
        draft.derived[setting] = value
        if setting not in draft.settings:
            draft.origins[setting] = where

    def _note_unused(self, name: str, where: Origin, reason: str) -> None:
        first = self._unused.get(name)
        if first is None:
            self._unused[name] = (where, 1, reason)
        else:
            self._unused[name] = (first[0], first[1] + 1, first[2])

    # ------------------------------------------------------------------ resolution

    def build(self, sources: Sequence[str] = ()) -> HostTable:
        """Resolve what was collected into an Inventory (or raise InventoryError)."""
        self._check_defined()
        self._check_cycles()
        groups = self.groups
        parents: dict[str, list[str]] = {name: [] for name in groups}
        for group in groups.values():
            for child in group.children:
                parents[child].append(group.name)
        everyone = groups[ALL]
        for name in list(groups):
            if name != ALL and not parents[name]:
                everyone.children.setdefault(name, everyone.origin)
                parents[name].append(ALL)
        direct: dict[str, list[str]] = {name: [] for name in self.hosts}
        for group in groups.values():
            for host in group.hosts:
                direct[host].append(group.name)
        ungrouped = groups[UNGROUPED]
        for host, names in direct.items():
            if any(name not in (ALL, UNGROUPED) for name in names):
                if host in ungrouped.hosts:
                    del ungrouped.hosts[host]
                    names.remove(UNGROUPED)
            elif UNGROUPED not in names:
                ungrouped.hosts[host] = None
                names.append(UNGROUPED)
        order = self._topological(parents)
        depth = {ALL: 0}
        ancestors: dict[str, frozenset[str]] = {}
        for name in order:
            ancestors[name] = frozenset([name]).union(*(ancestors[p] for p in parents[name]))
            for child in groups[name].children:
                depth[child] = max(depth.get(child, 0), depth[name] + 1)
        priority = {name: group.priority for name, group in groups.items()}

        def rank(name: str) -> tuple[int, int, str]:
            return (depth[name], priority[name], name)

        resolved = {
            name: InventoryGroup(
                name=name,
                hosts=tuple(group.hosts),
                children=tuple(group.children),
                parents=tuple(p for p in parents[name]),
                vars=MappingProxyType(dict(group.vars)),
                labels=MappingProxyType(dict(group.labels)),
                settings=MappingProxyType({**group.derived, **group.settings}),
                depth=depth[name],
                priority=priority[name],
                origin=group.origin,
            )
            for name, group in groups.items()
        }
        memo: dict[frozenset[str], Merged] = {}
        hosts: dict[str, InventoryHost] = {}
        for name, draft in self.hosts.items():
            key = frozenset(direct[name])
            merged = memo.get(key)
            if merged is None:
                member_of = set().union(*(ancestors[g] for g in key)) | {ALL}
                ordered = sorted(member_of, key=rank)
                merged = Merged([groups[g] for g in ordered])
                memo[key] = merged
            hosts[name] = merged.host(draft)
        for name in sorted(set(groups) & set(self.hosts)):
            self.warn(f"{name!r} names both a group and a host; patterns match the group")
        for var, (where, count, reason) in self._unused.items():
            times = f" ({count} places)" if count > 1 else ""
            self.warn(f"{where.location}: {var}{times}: {reason}")
        for message in self.warnings:
            log.warning("inventory: %s", message)
        return HostTable(hosts, resolved, sources=sources, warnings=self.warnings)

    def _check_defined(self) -> None:
        for group in self.groups.values():
            if group.defined:
                continue
            known = [g for g, d in self.groups.items() if d.defined and g not in (ALL, UNGROUPED)]
            close = difflib.get_close_matches(group.name, known, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            referrers = [g.name for g in self.groups.values() if group.name in g.children]
            what = (
                f"child group {group.name!r} of {referrers[0]!r} is not defined"
                if referrers
                else f"vars for group {group.name!r}, which is not defined"
            )
            raise InventoryError(
                what + hint,
                source=group.origin.source,
                line=group.origin.line,
                entry=f"group {group.name}",
            )

    def _check_cycles(self) -> None:
        """Raise InventoryError for a cycle in child groups, naming it and where it closes."""
        state: dict[str, int] = {}  # 1: on the current path, 2: done
        for root in self.groups:
            if root in state:
                continue
            state[root] = 1
            path = [root]
            stack = [iter(self.groups[root].children)]
            while stack:
                child = next(stack[-1], None)
                if child is None:
                    state[path.pop()] = 2
                    stack.pop()
                    continue
                seen = state.get(child)
                if seen == 1:
                    cycle = [*path[path.index(child) :], child]
                    origin = self.groups[path[-1]].children[child]
                    raise InventoryError(
                        f"group cycle: {' -> '.join(cycle)} (a group cannot contain itself)",
                        source=origin.source,
                        line=origin.line,
                        entry=f"group {path[-1]}",
                    )
                if seen is None:
                    state[child] = 1
                    path.append(child)
                    stack.append(iter(self.groups[child].children))

    def _topological(self, parents: Mapping[str, list[str]]) -> list[str]:
        """Return the groups parents first (Kahn's algorithm; there is no cycle)."""
        waiting = {name: len(p) for name, p in parents.items()}
        ready = [name for name, count in waiting.items() if count == 0]
        order: list[str] = []
        while ready:
            name = ready.pop()
            order.append(name)
            for child in self.groups[name].children:
                waiting[child] -= 1
                if waiting[child] == 0:
                    ready.append(child)
        return order
