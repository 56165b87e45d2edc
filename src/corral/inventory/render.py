"""What `corral inventory` and `corral facts` print, rendered to a given rich Console (and
the JSON they print, as plain data): host tables, Ansible's `--graph` tree and `--list`
JSON shape, a host's merged vars with where each came from, and facts."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from ..config.secret import MASK, Secret
from .builder import LABELS_VAR
from .model import ALL, UNGROUPED, HostTable, InventoryHost

#: A host's connection settings, as the ansible_* vars `--list` JSON carries them.
ANSIBLE_NAMES = {
    "address": "ansible_host",
    "port": "ansible_port",
    "user": "ansible_user",
    "key_file": "ansible_ssh_private_key_file",
}


class FactsLike(Protocol):
    """Anything with `to_dict()` (corral's Facts), so this module needs no remote import."""

    def to_dict(self) -> dict[str, Any]: ...


_SCALARS = (str, int, float, bool, type(None))


def _plain(value: Any) -> Any:
    """Return a value with secrets masked and containers made plain (for JSON)."""
    if type(value) in _SCALARS:  # the common case first: no ABC checks
        return value
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _plain_secrets(value: Any) -> Any:
    """Return a value with secrets masked, containers kept as they are."""
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, Mapping):
        return {k: _plain_secrets(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_secrets(v) for v in value]
    return value


def _shown(value: Any) -> str:
    """Return a value as one line of text (strings as they are, the rest as JSON)."""
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, str):
        return value
    return json.dumps(_plain(value), sort_keys=True, default=str)


def _table(*columns: str) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, highlight=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


# ---------------------------------------------------------------------- hosts


def render_hosts(console: Console, hosts: Iterable[InventoryHost]) -> None:
    """Print a table of hosts: how each is reached, its groups and labels (`--list`)."""
    table = _table("host", "address", "port", "user", "gateway", "groups", "labels")
    for host in hosts:
        labels = " ".join(f"{k}={v}" for k, v in sorted(host.labels.items()))
        groups = ",".join(g for g in host.groups if g != UNGROUPED)
        table.add_row(
            host.name,
            host.address or "",
            str(host.port) if host.port is not None else "",
            host.user or "",
            host.gateway or "",
            groups,
            labels,
        )
    console.print(table)


def render_host_names(console: Console, hosts: Iterable[InventoryHost]) -> None:
    """Print the names of selected hosts the way `ansible --list-hosts` does."""
    names = [host.name for host in hosts]
    lines = [f"  hosts ({len(names)}):", *(f"    {name}" for name in names)]
    console.print(Text("\n".join(lines)), highlight=False)


def render_graph(
    console: Console, inventory: HostTable, group: str = ALL, *, show_vars: bool = False
) -> None:
    """Print the group tree from `group`, as `ansible-inventory --graph [--vars]` does."""
    inventory.group(group)  # an unknown group: SelectionError with the closest names
    lines: list[str] = []

    def name(text: str, depth: int) -> str:
        return "  |" * depth + "--" + text if depth else text

    def variables(values: Mapping[str, Any], depth: int) -> None:
        for key in sorted(values):  # values as Ansible shows them: Python's str()
            value = values[key]
            shown = MASK if isinstance(value, Secret) else str(_plain_secrets(value))
            lines.append(name(f"{{{key} = {shown}}}", depth))

    def walk(node: str, depth: int) -> None:
        current = inventory.group(node)
        lines.append(name(f"@{node}:", depth))
        for child in current.children:
            walk(child, depth + 1)
        if node != ALL:
            for host in current.hosts:
                lines.append(name(host, depth + 1))
                if show_vars:
                    variables(inventory.host(host).vars, depth + 2)
        if show_vars:
            shown = dict(current.vars)
            if current.priority != 1:
                shown["ansible_group_priority"] = current.priority
            variables(shown, depth + 1)

    walk(group, 0)
    console.print(Text("\n".join(lines)), highlight=False)


def render_host(console: Console, host: InventoryHost) -> None:
    """Print one host's settings, labels and merged vars, each with where it came from."""
    table = _table("key", "value", "from")
    for key in ("address", "port", "user", "key_file", "gateway"):
        value = getattr(host, key)
        if value is not None:
            table.add_row(key, str(value), str(host.origins.get(key) or ""))
    for key in sorted(host.labels):
        origin = host.origins.get(f"labels.{key}")
        table.add_row(f"labels.{key}", host.labels[key], str(origin or ""))
    for key in sorted(host.vars):
        origin = host.origins.get(f"vars.{key}")
        table.add_row(key, _shown(host.vars[key]), str(origin or ""))
    groups = ", ".join(host.groups) or "(none)"
    console.print(Text(f"{host.name} (groups: {groups})"), highlight=False)
    console.print(table)


# ---------------------------------------------------------------------- JSON


def _ansible_settings(settings: Mapping[str, Any], present: Mapping[str, Any]) -> dict[str, Any]:
    """Return connection settings as the ansible_* vars that carry them (unless present)."""
    data: dict[str, Any] = {}
    for setting, name in ANSIBLE_NAMES.items():
        value = settings.get(setting)
        if value is not None and name not in present:
            data[name] = value
    gateway = settings.get("gateway")
    if gateway and "ansible_ssh_common_args" not in present:
        option = "ProxyCommand" if any(c.isspace() for c in gateway) else "ProxyJump"
        data["ansible_ssh_common_args"] = f"-o {shlex.quote(f'{option}={gateway}')}"
    return data


def host_vars_json(host: InventoryHost, *, own_only: bool = False) -> dict[str, Any]:
    """Return a host's vars as `ansible-inventory --host` gives them: with its connection
    settings as ansible_* vars and its labels as corral_labels; secrets masked.

    `own_only`: only what the host itself sets (Ansible's `--export`).
    """
    scope = f"host {host.name}"

    def mine(key: str) -> bool:
        if not own_only:
            return True
        origin = host.origins.get(key)
        return origin is not None and origin.scope == scope

    data: dict[str, Any] = {
        key: _plain(value) for key, value in host.vars.items() if mine(f"vars.{key}")
    }
    settings = {key: getattr(host, key) for key in (*ANSIBLE_NAMES, "gateway") if mine(key)}
    data.update(_ansible_settings(settings, data))
    labels = {k: v for k, v in host.labels.items() if mine(f"labels.{k}")}
    if labels:
        data[LABELS_VAR] = labels
    return data


def inventory_json(
    inventory: HostTable,
    hosts: Iterable[InventoryHost] | None = None,
    *,
    export: bool = False,
) -> dict[str, Any]:
    """Return the inventory in `ansible-inventory --list`'s JSON shape.

    `_meta.hostvars` has each host's merged vars (with `export`, only its own, and the
    groups carry their `vars`); each group lists its `hosts` and `children`. `hosts`
    limits it to those hosts (empty groups are left out, as Ansible does).
    """
    chosen = list(inventory.hosts if hosts is None else hosts)
    wanted = {host.name for host in chosen}
    data: dict[str, Any] = {}
    seen: set[str] = set()

    def add(name: str) -> bool:
        group = inventory.group(name)
        entry: dict[str, Any] = {}
        if name != ALL:
            members = [h for h in group.hosts if h in wanted]
            if members:
                entry["hosts"] = members
        children = []
        for child in group.children:
            if child not in seen:
                seen.add(child)
                if add(child) or child == UNGROUPED:
                    children.append(child)
            elif child in data:
                children.append(child)
        if children:
            entry["children"] = children
        if export and (group.vars or group.settings or group.labels or group.priority != 1):
            values = _plain(group.vars)
            values.update(_ansible_settings(group.settings, values))
            if group.labels:
                values[LABELS_VAR] = dict(group.labels)
            if group.priority != 1:
                values["ansible_group_priority"] = group.priority
            entry["vars"] = values
        if entry or name == ALL:
            data[name] = entry
            return True
        return False

    seen.add(ALL)
    add(ALL)
    hostvars = {}
    for host in chosen:
        values = host_vars_json(host, own_only=export)
        if values:
            hostvars[host.name] = values
    return {"_meta": {"hostvars": hostvars}, **data}


def _json_default(value: Any) -> Any:
    if isinstance(value, Secret):
        return MASK
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return list(value)
    return str(value)


def dumps(data: Any) -> str:
    """Return JSON text as ansible-inventory prints it (sorted keys, indent 4); secrets are
    masked, other values JSON does not know are shown as text."""
    return json.dumps(data, indent=4, sort_keys=True, default=_json_default)


def render_json(console: Console, data: Any) -> None:
    """Print data as JSON (no colour, no markup: for programs)."""
    console.out(dumps(data), highlight=False)


# ---------------------------------------------------------------------- facts


def facts_json(facts: Mapping[str, FactsLike | BaseException]) -> dict[str, Any]:
    """Return facts per host as plain data; a host whose gathering failed gets `error`."""
    return {
        host: {"error": str(value), "error_type": type(value).__name__}
        if isinstance(value, BaseException)
        else value.to_dict()
        for host, value in facts.items()
    }


def _gib(megabytes: Any) -> str:
    return f"{megabytes / 1024:.1f}" if isinstance(megabytes, int) else "?"


def _uptime(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return ""
    minutes = int(seconds) // 60
    days, hours, minutes = minutes // 1440, minutes // 60 % 24, minutes % 60
    return f"{days}d {hours}h" if days else f"{hours}h {minutes:02d}m"


def render_facts(console: Console, facts: Mapping[str, FactsLike | BaseException]) -> None:
    """Print a table of facts, a host per row; then the hosts whose gathering failed."""
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, highlight=False)
    for column in ("host", "os", "arch", "cpus", "mem GiB", "/ GiB", "address", "virt", "up"):
        table.add_column(column, no_wrap=column != "os", overflow="fold")
    failed: list[str] = []
    for host, value in facts.items():
        if isinstance(value, BaseException):
            reason = str(getattr(value, "reason", "") or value).splitlines()[0]
            failed.append(f"  {host}: {reason}")
            continue
        data = value.to_dict()
        os_ = data.get("os") or {}
        os_text = " ".join(str(os_[k]) for k in ("distribution", "version") if os_.get(k))
        root = next((m for m in data.get("mounts") or [] if m.get("mount") == "/"), None)
        disk = f"{_gib(root.get('used_mb'))}/{_gib(root.get('size_mb'))}" if root else ""
        memory = (data.get("memory") or {}).get("total_mb")
        virt = data.get("virtualization") or {}
        kinds = [k for k in (virt.get("vm"), virt.get("container")) if k and k != "none"]
        table.add_row(
            host,
            os_text,
            str(data.get("arch") or ""),
            str(data.get("cpu_count") or ""),
            _gib(memory) if memory is not None else "",
            disk,
            str((data.get("addresses") or {}).get("ipv4") or ""),
            "/".join(kinds) or ("none" if virt.get("vm") == "none" else ""),
            _uptime(data.get("uptime_seconds")),
        )
    if table.row_count:
        console.print(table)
    if failed:
        console.print(Text("\n".join([f"failed ({len(failed)}):", *failed])), highlight=False)
