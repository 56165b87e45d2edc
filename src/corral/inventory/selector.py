"""Host patterns: Ansible's syntax, plus matches on labels, vars and facts.

    web                   a group (all its hosts) or a host
    web*  ~web0[1-3]      a glob, or a regular expression (`~`, matched from the start)
    all  *                every host
    web:db  web,db        union (`,` when a term holds `:`)
    web:&prod             intersection
    web:!web03            exclusion
    @file  @NAME          the hosts named in a file, or in a list the caller gave by NAME
    web[0]  web[1:3]      Ansible's subscripts: hosts of a match by position
    role=web  env!=prod   a label or var (dotted keys reach into vars); globs in the value
    os.family=debian      a fact (facts must be supplied: selection never connects)
    cpu_count>=4          <, <=, >, >= compare numbers

As in Ansible, plain terms are applied first, then `&` terms, then `!` terms; a pattern of
only `&`/`!` terms starts from all. An unknown name is an error (a typo in `!web03` must not
quietly select web03), and so is a selection with no host; both name the closest names.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ..config import Secret
from ..errors import SelectionError
from .model import ALL

if TYPE_CHECKING:
    from .model import HostTable, InventoryHost

#: Facts per host: a mapping (host name, or Connection, -> Facts or a plain nested dict, as
#: `group.facts()` returns), or a function of the host name.
FactsLookup = Mapping[Any, Any] | Callable[[str], Any]

#: The top-level fields of corral's Facts (remote/facts): keys under them are facts.
FACT_ROOTS = frozenset(
    {
        "hostname",
        "fqdn",
        "os",
        "kernel",
        "arch",
        "cpu_count",
        "memory",
        "disks",
        "mounts",
        "init",
        "package_manager",
        "addresses",
        "virtualization",
        "uptime_seconds",
    }
)
#: Host settings a `key=value` term can match, after labels and vars.
HOST_FIELDS = ("name", "address", "port", "user", "gateway", "key_file")

_COLON_TERMS = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")
_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+):([0-9]+)?)\]$")
_MATCH = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)\s*(!=|<=|>=|=|<|>)\s*(.*)$")
_GLOB = frozenset("*?[")

Operator = Literal["=", "!=", "<", "<=", ">", ">="]


@dataclass(frozen=True)
class Term:
    """One term of a pattern: what it matches and how it combines."""

    text: str
    mode: Literal["union", "and", "not"]
    kind: Literal["all", "name", "glob", "regex", "match", "file"]
    value: str = ""
    key: str = ""
    operator: Operator = "="
    subscript: tuple[int, int | None] | None = None

    @property
    def is_fact_match(self) -> bool:
        """True when the term compares a key under a fact's name (os.family=debian)."""
        return self.kind == "match" and self.key.split(".")[0] in FACT_ROOTS


def split_pattern(pattern: str) -> list[str]:
    """Split a pattern into terms: on ',' when there is one, else on ':' outside [ ]."""
    if "," in pattern:
        parts = pattern.split(",")
    else:
        parts = _COLON_TERMS.findall(pattern)
    return [part.strip() for part in parts if part.strip()]


def parse_pattern(pattern: str) -> list[Term]:
    """Parse a host pattern into terms, in Ansible's order of application."""
    if not isinstance(pattern, str) or not pattern.strip():
        raise SelectionError("the pattern is empty", pattern=str(pattern))
    terms = [_term(text, pattern) for text in split_pattern(pattern)]
    if not terms:
        raise SelectionError("the pattern has no terms", pattern=pattern)
    ordered = [t for t in terms if t.mode == "union"]
    if not ordered:
        ordered = [Term("all", "union", "all")]
    return ordered + [t for t in terms if t.mode == "and"] + [t for t in terms if t.mode == "not"]


def _term(text: str, pattern: str) -> Term:
    mode: Literal["union", "and", "not"] = "union"
    body = text
    if body.startswith("&"):
        mode, body = "and", body[1:].strip()
    elif body.startswith("!") and not body.startswith("!="):
        mode, body = "not", body[1:].strip()
    if not body:
        raise SelectionError(f"term {text!r} has nothing after {text[0]!r}", pattern=pattern)
    if body in ("all", "*"):
        return Term(text, mode, "all")
    if body.startswith("~"):
        try:
            re.compile(body[1:])
        except re.error as exc:
            raise SelectionError(
                f"{body!r} is not a valid regular expression: {exc}", pattern=pattern
            ) from None
        return Term(text, mode, "regex", value=body[1:])
    if body.startswith("@"):
        return Term(text, mode, "file", value=body[1:])
    match = _MATCH.match(body)
    if match is not None:
        key, operator, value = match.groups()
        return Term(text, mode, "match", key=key, operator=operator, value=value.strip())  # type: ignore[arg-type]
    if any(char in body for char in "=<>"):
        raise SelectionError(
            f"term {body!r}: a match is KEY=VALUE (or !=, <, <=, >, >=) with KEY an identifier "
            "(dotted for nested vars and facts)",
            pattern=pattern,
        )
    subscript: tuple[int, int | None] | None = None
    found = _SUBSCRIPT.match(body)
    if found is not None:
        body, index, start, end = found.groups()
        if index is not None:
            subscript = (int(index), None)
        else:
            subscript = (int(start), int(end) if end is not None else -1)
    kind: Literal["name", "glob"] = "glob" if any(c in body for c in _GLOB) else "name"
    return Term(text, mode, kind, value=body, subscript=subscript)


def needs_facts(pattern: str) -> bool:
    """True when a pattern matches on facts (e.g. os.family=debian): gather them first."""
    return any(term.is_fact_match for term in parse_pattern(pattern))


def without_facts(pattern: str) -> str:
    """Return the pattern without its fact matches: it selects every host the whole
    pattern can select (and maybe more), so those are the hosts whose facts to gather."""
    terms = [term.text for term in parse_pattern(pattern) if not term.is_fact_match]
    if not any(not text.startswith(("&", "!")) for text in terms):
        terms.insert(0, "all")
    return ",".join(terms)


class _Evaluator:
    """Evaluates terms against one inventory (and, for fact matches, its facts)."""

    def __init__(
        self,
        inventory: HostTable,
        pattern: str,
        facts: FactsLookup | None,
        host_lists: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.inventory = inventory
        self.pattern = pattern
        self.host_lists = host_lists or {}
        if isinstance(facts, Mapping) and not all(isinstance(k, str) for k in facts):
            # a GroupResult from group.facts() is keyed by Connection: key it by host name
            facts = {str(getattr(k, "original_host", k)): v for k, v in facts.items()}
        self.facts = facts

    def hosts_of(self, term: Term) -> list[str]:
        """Return the host names one term matches, in order."""
        inventory = self.inventory
        if term.kind == "all":
            return list(inventory.members(ALL))
        if term.kind == "file":
            return self._file(term)
        if term.kind == "match":
            return [h.name for h in inventory.hosts if self._matches(h, term)]
        if term.kind == "name":
            found = self._by_name(term.value)
        else:
            if term.kind == "regex":
                regex = re.compile(term.value)
                test: Callable[[str], Any] = regex.match
            else:
                test = re.compile(fnmatch.translate(term.value)).match
            found = {}
            for group in inventory.group_names:
                if test(group):
                    found.update(dict.fromkeys(inventory.members(group)))
            for host in inventory.host_names:
                if test(host):
                    found[host] = None
        names = list(found)
        if term.subscript is not None:
            names = self._subscript(names, term)
        return names

    def _by_name(self, name: str) -> dict[str, None]:
        inventory = self.inventory
        found: dict[str, None] = {}
        if inventory.has_group(name):
            found.update(dict.fromkeys(inventory.members(name)))
        if (not found or "." in name) and inventory.has_host(name):
            found[name] = None
        if not found and not inventory.has_group(name):
            raise SelectionError(
                f"no host or group named {name!r}",
                pattern=self.pattern,
                suggestions=inventory.closest(name),
            )
        return found

    def _subscript(self, names: list[str], term: Term) -> list[str]:
        assert term.subscript is not None
        start, end = term.subscript
        try:
            if end is None:
                return [names[start]]
            if end == -1:
                return names[start:]
            return names[start : end + 1]
        except IndexError:
            raise SelectionError(
                f"{term.text!r}: no host at position {start} (the match has {len(names)})",
                pattern=self.pattern,
            ) from None

    def _file(self, term: Term) -> list[str]:
        listed = self.host_lists.get(term.value)
        if listed is not None:  # a list the caller named (the command line's @failed)
            lines = list(listed)
        else:
            lines = self._read(term)
        names: dict[str, None] = {}
        for line in lines:
            name = line.split("#", 1)[0].strip()
            if name:
                names.update(self._by_name(name))
        return list(names)

    def _read(self, term: Term) -> list[str]:
        path = Path(term.value).expanduser()
        try:
            return path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise SelectionError(
                f"cannot read host list {term.value!r}: {exc.strerror or exc}", pattern=self.pattern
            ) from None

    # ------------------------------------------------------------------ matches

    def lookup(self, host: InventoryHost, key: str) -> tuple[bool, Any]:
        """Return (found, value) of a key: labels, then vars (dotted), host fields, facts."""
        if key in host.labels:
            return True, host.labels[key]
        node: Any = host.vars
        found = True
        for part in key.split("."):
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            else:
                found = False
                break
        if found:
            return True, node
        if key in HOST_FIELDS:
            value = host.name if key == "name" else getattr(host, key)
            return value is not None, value
        if key.split(".")[0] in FACT_ROOTS:
            return self._fact(host.name, key)
        return False, None

    def _fact(self, name: str, key: str) -> tuple[bool, Any]:
        facts = self.facts
        if facts is None:
            raise SelectionError(
                f"{key} is a fact: gather facts first and pass them in (selection never "
                "connects), e.g. inventory.select(pattern, facts=group.facts())",
                pattern=self.pattern,
            )
        entry = facts(name) if callable(facts) else facts.get(name)
        if entry is None or isinstance(entry, BaseException):
            return False, None
        if isinstance(entry, Mapping):
            node: Any = entry
            for part in key.split("."):
                if not isinstance(node, Mapping) or part not in node:
                    return False, None
                node = node[part]
            return True, node
        getter = getattr(entry, "get", None)
        value = getter(key) if callable(getter) else None
        return value is not None, value

    def _matches(self, host: InventoryHost, term: Term) -> bool:
        found, actual = self.lookup(host, term.key)
        operator = term.operator
        if not found or actual is None or isinstance(actual, Secret):
            return operator == "!="
        if operator in ("=", "!="):
            equal = _equal(actual, term.value)
            return equal if operator == "=" else not equal
        return _compare(actual, term.value, operator)

    # ------------------------------------------------------------------ errors

    def explain_empty(self, terms: list[Term], counts: list[int]) -> SelectionError:
        """Say why a pattern selected nothing: the term that matched nothing, or the clash."""
        for term, count in zip(terms, counts, strict=True):
            if count == 0 and term.mode != "not":
                return SelectionError(
                    f"{term.text!r} matches no host", pattern=self.pattern,
                    suggestions=self._suggest(term),
                )  # fmt: skip
        shown = ", ".join(f"{t.text!r} ({c} hosts)" for t, c in zip(terms, counts, strict=True))
        return SelectionError(f"selects no host: {shown} leave none", pattern=self.pattern)

    def _suggest(self, term: Term) -> tuple[str, ...]:
        inventory = self.inventory
        if term.kind != "match":
            return inventory.closest(term.value) if term.value else ()
        values: dict[str, None] = {}
        for host in inventory.hosts:
            try:
                found, value = self.lookup(host, term.key)
            except SelectionError:
                return ()
            if found and value is not None and not isinstance(value, Secret | Mapping):
                values[f"{term.key}={_text(value)}"] = None
        wanted = f"{term.key}={term.value}"
        close = difflib.get_close_matches(wanted, list(values), n=3)
        return tuple(close or list(values)[:3])


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _equal(actual: Any, expected: str) -> bool:
    if isinstance(actual, list | tuple | set | frozenset):
        return any(_equal(item, expected) for item in actual)
    if isinstance(actual, bool):
        return expected.lower() in (
            ("true", "yes", "on", "1") if actual else ("false", "no", "off", "0")
        )
    text = _text(actual)
    if any(char in expected for char in _GLOB):
        return fnmatch.fnmatchcase(text, expected)
    if text == expected:
        return True
    number = _number(expected)
    return number is not None and isinstance(actual, int | float) and actual == number


def _number(text: Any) -> float | None:
    if isinstance(text, bool):
        return None
    if isinstance(text, int | float):
        return float(text)
    try:
        return float(str(text))
    except ValueError:
        return None


def _compare(actual: Any, expected: str, operator: Operator) -> bool:
    left, right = _number(actual), _number(expected)
    if left is None or right is None:
        return False
    if operator == "<":
        return left < right
    if operator == "<=":
        return left <= right
    if operator == ">":
        return left > right
    return left >= right


def evaluate(
    inventory: HostTable,
    pattern: str,
    facts: FactsLookup | None = None,
    host_lists: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """Return the host names a pattern selects, in order (empty: SelectionError)."""
    terms = parse_pattern(pattern)
    evaluator = _Evaluator(inventory, pattern, facts, host_lists)
    selected: dict[str, None] = {}
    counts: list[int] = []
    for term in terms:
        names = evaluator.hosts_of(term)
        counts.append(len(names))
        if term.mode == "union":
            selected.update(dict.fromkeys(names))
        elif term.mode == "and":
            keep = set(names)
            selected = {name: None for name in selected if name in keep}
        else:
            drop = set(names)
            selected = {name: None for name in selected if name not in drop}
    if not selected:
        raise evaluator.explain_empty(terms, counts)
    return list(selected)


def select(
    inventory: HostTable,
    pattern: str,
    limit: str | None = None,
    *,
    facts: FactsLookup | None = None,
    host_lists: Mapping[str, Sequence[str]] | None = None,
) -> list[str]:
    """Return the host names `pattern` selects, narrowed by `limit` (`--limit`), in order.

    `host_lists` names lists of hosts that `@NAME` terms select (before a file of that name).
    """
    names = evaluate(inventory, pattern, facts, host_lists)
    if limit is None or not limit.strip():
        return names
    try:
        allowed = set(evaluate(inventory, limit, facts, host_lists))
    except SelectionError as exc:
        raise SelectionError(
            f"--limit: {exc.detail}", pattern=limit, suggestions=exc.suggestions
        ) from exc
    chosen = [name for name in names if name in allowed]
    if not chosen:
        raise SelectionError(
            f"selects {len(names)} host(s), none of them in --limit {limit!r}",
            pattern=pattern,
        )
    return chosen


def hosts_for(inventory: HostTable, names: Iterable[str]) -> list[InventoryHost]:
    """Return the InventoryHosts of names, in order."""
    return [inventory.host(name) for name in names]
