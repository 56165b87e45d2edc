"""Ansible's inventory formats, read as they are: INI, YAML, and the JSON of a dynamic
inventory's `--list` (`_meta.hostvars`), with Ansible's rules for ranges, `host:port`,
`[group:vars]`, `[group:children]` and value types."""

from __future__ import annotations

import ast
import re
import shlex
from collections.abc import Callable, Mapping
from typing import Any

from ...errors import InventoryError
from ..builder import InventoryBuilder
from ..draft import GroupDraft
from ..model import UNGROUPED, Origin
from ..ranges import expand_range, has_range
from .linedata import LineDict
from .lines import line_of

_SECTION = re.compile(r"^\[([^:\]\s]+)(?::(\w+))?\]\s*(?:[#;].*)?$")
_GROUP_NAME = re.compile(r"^([^:\]\s]+)\s*(?:[#;].*)?$")
_INT = re.compile(r"-?(?:0|[1-9][0-9_]*)\Z")
#: Digits and dots with two dots or more (addresses, versions): never a Python literal.
_DOTTED = re.compile(r"[0-9]+(?:\.[0-9]*){2,}\Z")
#: What makes shlex needed to split a host line (quotes, escapes, comments).
_SHLEX_NEEDED = re.compile(r"['\"\\#]")
_PREFIXED_LITERAL = re.compile(r"[bBrRuU]{1,2}['\"]")
_PORT = re.compile(r"^(.*[^:]):(\d+)$")


def split_port(pattern: str) -> tuple[str, int | None]:
    """Split `host:port` (and `[v6]:port`); a bare IPv6 address keeps its colons."""
    if pattern.startswith("[") and "]:" in pattern and pattern.count("]") == 1:
        address, _, port = pattern[1:].partition("]:")
        if port.isdigit():
            return address, int(port)
    if pattern.count(":") == 1 or (pattern.count(":") > 1 and "]" in pattern):
        match = _PORT.match(pattern)
        if match and "[" not in match.group(1)[-1:]:
            return match.group(1), int(match.group(2))
    return pattern, None


def ini_value(text: str) -> Any:
    """Type an INI value as Ansible does: a Python literal when it is one, else the string."""
    if not text:
        return text
    if _INT.match(text):
        return int(text)
    first = text[0]
    if text in ("True", "False", "None"):
        return ast.literal_eval(text)
    if first.isalpha() and not _PREFIXED_LITERAL.match(text):
        return text  # a word, a path, a name: literal_eval would refuse it anyway (fast path)
    if _DOTTED.match(text):
        return text  # an address or a version (fast path, same answer)
    if first.isalnum() or first in "'\"[{(+-.":
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            return text
        return value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    return text


class IniFormat:
    """Ansible's INI inventory, line by line, with Ansible's sections and pending groups."""

    def __init__(self, builder: InventoryBuilder, source: str) -> None:
        self.builder = builder
        self.source = source
        #: Typed values by their text, for the immutable ones (the same few values repeat
        #: across thousands of host lines: ports, roles, True).
        self._values: dict[str, Any] = {}

    def value(self, text: str) -> Any:
        """Type a value as Ansible does (ini_value), remembering immutable results."""
        try:
            return self._values[text]
        except KeyError:
            value = ini_value(text)
            if isinstance(value, str | int | float | bool | type(None)):
                self._values[text] = value
            return value

    def read(self, text: str) -> None:
        builder = self.builder
        source = self.source
        group = builder.group(UNGROUPED, Origin(source, 1))
        state = "hosts"
        for number, raw in enumerate(text.splitlines(), 1):
            line = raw.strip()
            if not line or line[0] in "#;":
                continue
            where = Origin(source, number)
            if line[0] == "[":
                match = _SECTION.match(line)
                if match is None:
                    raise InventoryError(
                        f"not a valid section header {line!r} (expected [group], "
                        "[group:vars] or [group:children], without spaces)",
                        source=source,
                        line=number,
                    )
                name, kind = match.group(1), match.group(2) or "hosts"
                if kind not in ("hosts", "vars", "children"):
                    raise InventoryError(
                        f"section [{name}:{kind}] has an unknown type {kind!r} "
                        "(expected vars or children)",
                        source=source,
                        line=number,
                    )
                # [g] and [g:children] declare a group; [g:vars] only refers to one
                group = builder.group(name, where, define=kind != "vars")
                state = kind
            elif state == "hosts":
                self._host_line(group, line, where)
            elif state == "vars":
                key, equals, value = line.partition("=")
                if not equals or not key.strip():
                    raise InventoryError(
                        f"expected key=value in [{group.name}:vars], got {line!r}",
                        source=source,
                        line=number,
                    )
                builder.set_var(group, key.strip(), self.value(value.strip()), where)
            else:
                match = _GROUP_NAME.match(line)
                if match is None:
                    raise InventoryError(
                        f"expected a group name in [{group.name}:children], got {line!r}",
                        source=source,
                        line=number,
                    )
                builder.add_child(group, match.group(1), where)

    def _host_line(self, group: GroupDraft, line: str, where: Origin) -> None:
        if _SHLEX_NEEDED.search(line) is None:
            tokens = line.split()  # what shlex gives a line without quotes or comments
        else:
            try:
                tokens = shlex.split(line, comments=True)
            except ValueError as exc:
                raise InventoryError(
                    f"cannot split host line {line!r}: {exc}",
                    source=where.source,
                    line=where.line,
                ) from None
        if not tokens:
            return
        pattern, port = split_port(tokens[0])
        if tokens[0].endswith(":"):
            raise InventoryError(
                f"host {tokens[0]!r} ends in ':' (reserved for a port)",
                source=where.source,
                line=where.line,
            )
        if pattern.strip() == "---":
            raise InventoryError(
                "'---' looks like YAML: name the file .yaml or .yml",
                source=where.source,
                line=where.line,
            )
        variables: list[tuple[str, Any]] = []
        for token in tokens[1:]:
            key, equals, value = token.partition("=")
            if not equals:
                raise InventoryError(
                    f"expected key=value after the host name, got {token!r}",
                    source=where.source,
                    line=where.line,
                    entry=f"host {pattern}",
                )
            variables.append((key, self.value(value)))
        builder = self.builder
        for name in expand_range(pattern, source=where.source, line=where.line):
            host = builder.host(name, where)
            builder.add_member(group, host)
            here = host.origin  # one Origin for the line's vars: the host's, if made here
            if here.line != where.line or here.source != where.source:
                here = host.at(where)
            if port is not None:
                builder.set_var(host, "ansible_port", port, here)
            builder.set_vars(host, variables, here)


def looks_like_ansible_yaml(data: Any) -> bool:
    """True when parsed YAML has Ansible's shape: groups at the top, each a mapping or null."""
    return isinstance(data, Mapping) and all(
        isinstance(v, Mapping | type(None)) for v in data.values()
    )


class YamlFormat:
    """Ansible's YAML inventory: groups at the top, each with hosts, vars and children."""

    def __init__(self, builder: InventoryBuilder, source: str) -> None:
        self.builder = builder
        self.source = source

    def at(self, container: Any, key: Any, fallback: int | None = None) -> Origin:
        return Origin(self.source, line_of(container, key) or fallback)

    def read(self, data: Mapping[Any, Any]) -> None:
        for name, spec in data.items():
            self._group(name, spec, self.at(data, name))

    def _group(self, name: Any, spec: Any, where: Origin) -> GroupDraft:
        if not isinstance(name, str):
            raise InventoryError(
                f"a group name must be a string, got {name!r}",
                source=where.source,
                line=where.line,
            )
        builder = self.builder
        group = builder.group(name, where)
        if spec is None:
            return group
        if not isinstance(spec, Mapping):
            raise InventoryError(
                f"expected a mapping (hosts, vars, children), got {type(spec).__name__}",
                source=where.source,
                line=where.line,
                entry=f"group {name}",
            )
        for key, value in spec.items():
            here = self.at(spec, key, where.line)
            if isinstance(value, str):  # Ansible accepts `hosts: web1` for one host
                value = {value: None}
            if value is None:
                continue
            if key not in ("hosts", "vars", "children"):
                builder.warn(
                    f"{here.location}: group {name}: key {key!r} skipped "
                    "(a group has hosts, vars and children)"
                )
                continue
            if not isinstance(value, Mapping):
                raise InventoryError(
                    f"{key}: expected a mapping, got {type(value).__name__}",
                    source=here.source,
                    line=here.line,
                    entry=f"group {name}",
                )
            if key == "vars":
                for var, var_value in value.items():
                    builder.set_var(group, var, var_value, self.at(value, var, here.line))
            elif key == "children":
                for child, child_spec in value.items():
                    child_at = self.at(value, child, here.line)
                    self._group(child, child_spec, child_at)
                    builder.add_child(group, child, child_at)
            else:
                source, lines = self.source, getattr(value, "lines", None)
                for pattern, host_vars in value.items():  # self.at() inlined: 10,000 hosts
                    line = lines.get(pattern) if lines else None
                    line = line or line_of(value, pattern)
                    self._hosts(group, pattern, host_vars, Origin(source, line or here.line))
        return group

    def _hosts(self, group: GroupDraft, pattern: Any, host_vars: Any, where: Origin) -> None:
        if not isinstance(pattern, str):
            raise InventoryError(
                f"host {pattern!r} must be a string (quote numbers)",
                source=where.source,
                line=where.line,
                entry=f"group {group.name}",
            )
        # (a LineDict's exact class first: isinstance(x, Mapping) goes through the ABC's
        # __instancecheck__, ten times slower, and this runs for every host)
        if host_vars is not None and (
            host_vars.__class__ is not LineDict and not isinstance(host_vars, Mapping)
        ):
            raise InventoryError(
                f"expected a mapping of vars (or nothing), got {type(host_vars).__name__}",
                source=where.source,
                line=where.line,
                entry=f"host {pattern}",
            )
        name_pattern, port = split_port(pattern) if ":" in pattern else (pattern, None)
        builder = self.builder
        # Vars written on one line (`h1: {ansible_host: ..., role: web}`, the usual way for
        # many hosts) share one origin and go in with one set_vars; others one by one, each
        # at its line. (Profiled on 10,000 hosts: the per-var Origins and calls were a third
        # of building.)
        lines = getattr(host_vars, "lines", None) if host_vars else None
        shared = None
        if lines and host_vars and len(lines) == len(host_vars):
            one_line = set(lines.values())
            if len(one_line) == 1:
                shared = Origin(self.source, one_line.pop())
        names = (
            expand_range(name_pattern, source=where.source, line=where.line)
            if has_range(name_pattern)
            else (name_pattern,)
        )
        for name in names:
            host = builder.host(name, where)
            builder.add_member(group, host)
            if port is not None:
                builder.set_var(host, "ansible_port", port, where)
            if not host_vars:
                continue
            if shared is not None:
                builder.set_vars(host, host_vars.items(), shared)
                continue
            for var, value in host_vars.items():
                builder.set_var(host, var, value, self.at(host_vars, var, where.line))


HostVarsGetter = Callable[[str], Mapping[str, Any]]


class ListFormat:
    """The JSON a dynamic inventory prints for `--list` (also read from .json files)."""

    def __init__(self, builder: InventoryBuilder, source: str) -> None:
        self.builder = builder
        self.source = source

    def read(self, data: Mapping[str, Any], host_vars: HostVarsGetter | None = None) -> None:
        """Read groups and `_meta.hostvars`; without `_meta`, ask `host_vars(name)` per host."""
        builder = self.builder
        where = Origin(self.source)
        listed: dict[str, None] = {}
        meta = data.get("_meta")
        for name, spec in data.items():
            if name == "_meta":
                continue
            group = builder.group(name, where)
            entry = f"group {name}"
            if not isinstance(spec, Mapping):
                spec = {"hosts": spec}
            elif not any(k in spec for k in ("hosts", "vars", "children")):
                spec = {"hosts": [name], "vars": spec}  # Ansible's shorthand: a host with vars
            hosts = spec.get("hosts") or []
            if not isinstance(hosts, list):
                raise self._bad(
                    f"hosts: expected a list of names, got {type(hosts).__name__}", entry
                )
            for host_name in hosts:
                if not isinstance(host_name, str):
                    raise self._bad(f"hosts: expected host names, got {host_name!r}", entry)
                builder.add_member(group, builder.host(host_name, where))
                listed[host_name] = None
            variables = spec.get("vars") or {}
            if not isinstance(variables, Mapping):
                raise self._bad(f"vars: expected a mapping, got {type(variables).__name__}", entry)
            for key, value in variables.items():
                builder.set_var(group, key, value, where)
            children = spec.get("children") or []
            if not isinstance(children, list):
                raise self._bad(f"children: expected a list, got {type(children).__name__}", entry)
            for child in children:
                if not isinstance(child, str):
                    raise self._bad(f"children: expected group names, got {child!r}", entry)
                builder.group(child, where)
                builder.add_child(group, child, where)
        hostvars: Any = None
        if isinstance(meta, Mapping) and "hostvars" in meta:
            hostvars = meta["hostvars"]
            if not isinstance(hostvars, Mapping):
                raise self._bad("_meta.hostvars: expected a mapping of host -> vars", "_meta")
        for host_name in listed:
            if hostvars is not None:
                found = hostvars.get(host_name) or {}
            elif host_vars is not None:
                found = host_vars(host_name)
            else:
                found = {}
            if not isinstance(found, Mapping):
                raise self._bad(
                    f"expected a mapping of vars, got {type(found).__name__}", f"host {host_name}"
                )
            host = builder.hosts[host_name]
            for key, value in found.items():
                builder.set_var(host, key, value, where)

    def _bad(self, message: str, entry: str) -> InventoryError:
        return InventoryError(message, source=self.source, entry=entry)


def is_list_json(data: Any) -> bool:
    """True when JSON data has the `--list` shape (a `_meta`, or groups of host lists)."""
    if not isinstance(data, Mapping):
        return False
    if "_meta" in data:
        return True
    return bool(data) and all(
        isinstance(v, list) or (isinstance(v, Mapping) and isinstance(v.get("hosts"), list))
        for v in data.values()
    )


__all__ = [
    "IniFormat",
    "LineDict",
    "ListFormat",
    "YamlFormat",
    "ini_value",
    "is_list_json",
    "looks_like_ansible_yaml",
    "split_port",
]
