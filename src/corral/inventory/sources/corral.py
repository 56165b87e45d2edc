"""corral's own inventory format (YAML, or the same shape returned by a Python hook):

```yaml
vars: {app_user: deploy}               # every host (the group "all")
hosts:
  web[01:03]:                          # a range: web01, web02, web03
    address: 10.0.1.[1:3]              # a range of the same length, or one address per host
    labels: {role: web}
  db1: {address: 10.0.2.5, port: 2222, user: admin, key_file: ~/.ssh/db, gateway: bastion,
        labels: {role: db}, vars: {pg_version: 16}, groups: [prod]}
groups:
  web: {hosts: ["web[01:03]"], vars: {http_port: 80}, gateway: bastion}
  prod: {children: [web], vars: {env: prod}, labels: {env: prod}}
```

Unknown keys are errors (with the closest known key), named by file:line.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from typing import Any

from ...errors import InventoryError
from ..builder import InventoryBuilder
from ..draft import Draft, GroupDraft
from ..model import ALL, Origin
from ..ranges import expand_range, has_range
from .lines import line_of

TOP_KEYS = ("hosts", "groups", "vars")
HOST_KEYS = ("address", "port", "user", "key_file", "gateway", "labels", "vars", "groups")
GROUP_KEYS = ("hosts", "children", "vars", "labels", "port", "user", "key_file", "gateway")
_SETTINGS = ("address", "port", "user", "key_file", "gateway")


def looks_like_corral(data: Any) -> bool:
    """True when parsed YAML is in corral's format: hosts, groups or vars at the top (in
    Ansible's, the top holds group names, such as all)."""
    return isinstance(data, Mapping) and any(key in data for key in TOP_KEYS)


def _unknown(key: Any, known: tuple[str, ...], where: Origin, entry: str) -> InventoryError:
    close = difflib.get_close_matches(str(key), known, n=1)
    hint = f"; did you mean {close[0]}?" if close else ""
    return InventoryError(
        f"unknown key {key!r} (known: {', '.join(known)}){hint}",
        source=where.source,
        line=where.line,
        entry=entry,
    )


def _mapping(value: Any, what: str, where: Origin, entry: str) -> Mapping[Any, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InventoryError(
            f"{what}: expected a mapping, got {type(value).__name__}",
            source=where.source,
            line=where.line,
            entry=entry,
        )
    return value


def _names(value: Any, what: str, where: Origin, entry: str) -> list[tuple[str, Origin]]:
    """Return the names of a list (or a single name), each with its line."""
    if value is None:
        return []
    if isinstance(value, str):
        return [(value, where)]
    if not isinstance(value, list):
        raise InventoryError(
            f"{what}: expected a list of names, got {type(value).__name__}",
            source=where.source,
            line=where.line,
            entry=entry,
        )
    out = []
    for index, item in enumerate(value):
        here = Origin(where.source, line_of(value, index) or where.line)
        if not isinstance(item, str):
            raise InventoryError(
                f"{what}: expected a name, got {item!r}",
                source=here.source,
                line=here.line,
                entry=entry,
            )
        out.append((item, here))
    return out


class CorralFormat:
    """Reads one document of corral's format into a builder."""

    def __init__(self, builder: InventoryBuilder, source: str) -> None:
        self.builder = builder
        self.source = source

    def at(self, container: Any, key: Any, fallback: int | None = None) -> Origin:
        return Origin(self.source, line_of(container, key) or fallback)

    def read(self, data: Mapping[Any, Any]) -> None:
        """Read a whole document (top-level hosts, groups and vars)."""
        top = Origin(self.source, line_of(data, "hosts"))
        for key in data:
            if key not in TOP_KEYS:
                raise _unknown(key, TOP_KEYS, self.at(data, key), "top level")
        everyone = self.builder.group(ALL, top)
        variables = _mapping(data.get("vars"), "vars", self.at(data, "vars"), "all")
        self._vars(everyone, variables)
        hosts = _mapping(data.get("hosts"), "hosts", self.at(data, "hosts"), "hosts")
        for name, spec in hosts.items():
            self.host_entry(name, spec, self.at(hosts, name), None)
        groups = _mapping(data.get("groups"), "groups", self.at(data, "groups"), "groups")
        for name, spec in groups.items():
            self.group_entry(name, spec, self.at(groups, name))

    def read_hosts(self, entries: Iterable[Any]) -> None:
        """Read a list of hosts: names, or mappings with a `name` and host keys."""
        for index, entry in enumerate(entries):
            where = self.at(entries, index)
            if isinstance(entry, str):
                self.host_entry(entry, None, where, None)
            elif isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
                spec = {k: v for k, v in entry.items() if k != "name"}
                self.host_entry(entry["name"], spec, where, None)
            else:
                raise InventoryError(
                    f"expected a host name or a mapping with a 'name', got {type(entry).__name__}",
                    source=where.source,
                    line=where.line,
                    entry=f"host #{index + 1}",
                )

    def host_entry(
        self, pattern: Any, spec: Any, where: Origin, group: GroupDraft | None
    ) -> list[str]:
        """Define the host(s) of one name or range; return their names."""
        if not isinstance(pattern, str) or not pattern:
            raise InventoryError(
                f"a host name must be a non-empty string, got {pattern!r}",
                source=where.source,
                line=where.line,
                entry="hosts",
            )
        entry = f"host {pattern}"
        spec = _mapping(spec, "host", where, entry)
        for key in spec:
            if key not in HOST_KEYS:
                raise _unknown(key, HOST_KEYS, self.at(spec, key, where.line), entry)
        names = expand_range(pattern, source=where.source, line=where.line)
        addresses: list[Any] = [spec.get("address")] * len(names)
        address = spec.get("address")
        if isinstance(address, str) and has_range(address):
            addresses = expand_range(address, source=where.source, line=where.line)
            if len(addresses) != len(names):
                raise InventoryError(
                    f"address range {address!r} gives {len(addresses)} addresses "
                    f"for {len(names)} hosts",
                    source=where.source,
                    line=line_of(spec, "address") or where.line,
                    entry=entry,
                )
        elif address is not None and len(names) > 1:
            raise InventoryError(
                f"one address ({address!r}) for {len(names)} hosts: give a range of the "
                "same length (e.g. 10.0.1.[1:3]) or define the hosts one by one",
                source=where.source,
                line=line_of(spec, "address") or where.line,
                entry=entry,
            )
        labels = _mapping(spec.get("labels"), "labels", self.at(spec, "labels", where.line), entry)
        variables = _mapping(spec.get("vars"), "vars", self.at(spec, "vars", where.line), entry)
        memberships = _names(
            spec.get("groups"), "groups", self.at(spec, "groups", where.line), entry
        )
        builder = self.builder
        for name, host_address in zip(names, addresses, strict=True):
            host = builder.host(name, where)
            if group is not None:
                builder.add_member(group, host)
            if host_address is not None:
                builder.set_setting(
                    host, "address", host_address, self.at(spec, "address", where.line)
                )
            for key in _SETTINGS[1:]:
                if spec.get(key) is not None:
                    builder.set_setting(host, key, spec[key], self.at(spec, key, where.line))
            self._labels(host, labels)
            self._vars(host, variables)
            for group_name, here in memberships:
                builder.add_member(builder.group(group_name, here), host)
        return names

    def group_entry(self, name: Any, spec: Any, where: Origin) -> None:
        """Define a group: its hosts (names, ranges, or definitions), children, vars."""
        if not isinstance(name, str):
            raise InventoryError(
                f"a group name must be a string, got {name!r}",
                source=where.source,
                line=where.line,
                entry="groups",
            )
        entry = f"group {name}"
        spec = _mapping(spec, "group", where, entry)
        for key in spec:
            if key not in GROUP_KEYS:
                raise _unknown(key, GROUP_KEYS, self.at(spec, key, where.line), entry)
        builder = self.builder
        group = builder.group(name, where)
        hosts = spec.get("hosts")
        hosts_at = self.at(spec, "hosts", where.line)
        if isinstance(hosts, Mapping):
            for pattern, host_spec in hosts.items():
                self.host_entry(pattern, host_spec, self.at(hosts, pattern, hosts_at.line), group)
        else:
            for pattern, here in _names(hosts, "hosts", hosts_at, entry):
                for host_name in expand_range(pattern, source=here.source, line=here.line):
                    builder.add_member(group, builder.host(host_name, here))
        for child, here in _names(
            spec.get("children"), "children", self.at(spec, "children", where.line), entry
        ):
            builder.add_child(group, child, here)
        for key in _SETTINGS[1:]:
            if spec.get(key) is not None:
                builder.set_setting(group, key, spec[key], self.at(spec, key, where.line))
        self._labels(
            group,
            _mapping(spec.get("labels"), "labels", self.at(spec, "labels", where.line), entry),
        )
        self._vars(
            group, _mapping(spec.get("vars"), "vars", self.at(spec, "vars", where.line), entry)
        )

    def _vars(self, draft: Draft, variables: Mapping[Any, Any]) -> None:
        for key, value in variables.items():
            self.builder.set_var(draft, key, value, self.at(variables, key))

    def _labels(self, draft: Draft, labels: Mapping[Any, Any]) -> None:
        for key, value in labels.items():
            self.builder.set_label(draft, key, value, self.at(labels, key))
