"""A fast reader for the plain subset of YAML that big inventories are written in, giving
exactly what PyYAML's safe loader (with lines.py's line numbers) gives, or nothing.

PyYAML builds a Python object for every event, node and mark of a document, then constructs
the data from the nodes in Python: 1 s for an inventory of 10,000 hosts, where this reader
takes a tenth of that. It reads line by line:

- block mappings whose keys are plain words (`web01:`, `h1:2222:`, `web[01:50]:`), nested
  by indentation, and block sequences of values (`- item`);
- values that are plain scalars on one line, or flow mappings / sequences on one line
  whose items are plain scalars (`{ansible_host: 10.0.0.1, role: web}`, `[a, b]`);
- comments, blank lines, and a leading `---`.

Plain scalars are typed by PyYAML's own resolver and constructors (YAML 1.1: `yes`/`off`
booleans, `017` octal, `1:30` sexagesimal, `~` null, timestamps), so types cannot drift.
Anything else (quotes, tags such as `!vault`, anchors, aliases and merge keys, multi-line
scalars, block scalars, `? ` keys, tabs, `\\r`, several documents, odd indentation, and
everything PyYAML would reject) makes `read_plain` return None, and the caller uses PyYAML:
the fast path never guesses.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from .linedata import LineDict, LineList

#: A first character that no implicit resolver of PyYAML starts with: the scalar is a str.
_RESOLVED_BY_FIRST = frozenset(k for k in yaml.resolver.Resolver.yaml_implicit_resolvers if k)
_STR = "tag:yaml.org,2002:str"

# Plain scalars, strictly: a first character that is no YAML indicator, then word
# characters; ':' only inside a word (followed by a word character, as in `h1:2222`).
# Block context also allows `[`, `]`, `,`, `(` and `)` inside (host ranges); flow context
# not. (Runs of one character class, no per-character alternation: 3x faster in re.)
# A scalar starting with `-` then a space (or `-` alone) is a sequence entry: _Scalars
# refuses those.
_FIRST = r"[A-Za-z0-9_/.+~-]"
_KEY_RUN = r"[A-Za-z0-9_./@+=~\[\]-]*"
_KEY = rf"{_FIRST}{_KEY_RUN}(?::[A-Za-z0-9_\[]{_KEY_RUN})*"
_BLOCK_RUN = r"[A-Za-z0-9_./@+=~()\[\],-]*"
_BLOCK_WORD = rf"{_BLOCK_RUN}(?::[A-Za-z0-9_\[]{_BLOCK_RUN})*"
_FLOW_RUN = r"[A-Za-z0-9_./@+=~-]"
_FLOW_SCALAR = rf"{_FIRST}{_FLOW_RUN}*(?: +{_FLOW_RUN}+)*"
_COMMENT = r"(?: +#.*)?"

#: `KEY:` or `KEY: rest`, at some indentation.
_KEY_LINE = re.compile(rf"( *)({_KEY}):(?: +(.*))?\Z", re.ASCII)
#: `- rest`, at some indentation.
_ITEM_LINE = re.compile(r"( *)- +(.*)\Z", re.ASCII)
#: A block plain scalar (words separated by spaces), then maybe a comment.
_BLOCK_VALUE = re.compile(
    rf"({_FIRST}{_BLOCK_WORD}(?: +[A-Za-z0-9_./@+=~()\[\],-]{_BLOCK_WORD})*){_COMMENT}\Z",
    re.ASCII,
)
#: One item or key or value of a flow collection, with the spaces around it.
_FLOW_ITEM = re.compile(rf" *({_FLOW_SCALAR}) *\Z", re.ASCII).match
#: What may follow a flow collection's closing bracket.
_TAIL = re.compile(r" +#.*\Z")

#: Characters PyYAML rejects (its Reader.NON_PRINTABLE) or takes as line breaks (NEL, LS,
#: PS: even inside a comment): a text holding one is PyYAML's to read.
_UNUSUAL = re.compile(
    "[^\x0a\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029\ufeff]"
)
#: The same for an ASCII text (most are): only control characters.
_UNUSUAL_ASCII = re.compile("[\x00-\x09\x0b-\x1f\x7f]")
#: Digits with two dots or more (addresses, versions): no implicit type matches, a str.
_DOTTED = re.compile(r"[0-9]+(?:\.[0-9]*){2,}\Z")
_MISSING: Any = object()


class _NotPlain(Exception):
    """The document is outside the subset: PyYAML reads it."""


class _Scalars:
    """Plain scalars typed as PyYAML types them, each distinct text once."""

    def __init__(self) -> None:
        self._loader = yaml.SafeLoader("")
        #: Typed values by their text (callers look here first: a dict lookup is cheaper).
        self.known: dict[str, Any] = {}

    def __call__(self, text: str) -> Any:
        """Return the value of a plain scalar (typed as PyYAML types it)."""
        value: Any = self.known.get(text, _MISSING)
        if value is not _MISSING:
            return value
        if text[0] == "-" and (len(text) == 1 or text[1] == " "):
            raise _NotPlain(text)  # a sequence entry, not a scalar
        if text[0] not in _RESOLVED_BY_FIRST or _DOTTED.match(text):
            value = text
        else:
            loader = self._loader
            tag = loader.resolve(yaml.ScalarNode, text, (True, False))  # type: ignore[no-untyped-call]
            if tag == _STR:
                value = text
            else:
                constructor = loader.yaml_constructors.get(tag)
                if constructor is None:
                    raise _NotPlain(tag)
                value = constructor(loader, yaml.ScalarNode(tag, text))
        self.known[text] = value  # all immutable: None, bool, int, float, str, dates
        return value


def read_plain(text: str) -> LineDict | None:
    """Return the document as lines.load_yaml would, if it is in the plain subset; else None."""
    unusual = _UNUSUAL_ASCII if text.isascii() else _UNUSUAL
    if "\t" in text or "\r" in text or unusual.search(text) is not None:
        return None
    try:
        return _Reader(text).read()
    except (_NotPlain, yaml.YAMLError, ValueError):
        return None


class _Reader:
    def __init__(self, text: str) -> None:
        self.text = text
        self.scalar = _Scalars()
        #: Flow scalars by their text with the spaces around them, checked and typed.
        self.flow_known: dict[str, Any] = {}
        self.pairs = _Pairs(self)

    def read(self) -> LineDict:
        scalar = self.scalar
        known = scalar.known
        key_line = _KEY_LINE.match
        item_line = _ITEM_LINE.match
        value_of = self.value
        # the open containers, innermost last: (indent, LineDict or LineList)
        stack: list[tuple[int, Any]] = []
        top: Any = None  # the innermost one, and its indentation
        top_indent = -1
        # a `key:` waiting for its value: (its mapping, key, indent of the mapping)
        pending: tuple[LineDict, Any, int] | None = None
        root: LineDict | None = None
        for number, raw in enumerate(self.text.split("\n"), 1):
            line = raw.rstrip(" ")
            if not line:
                continue
            match = key_line(line)
            if match is not None:
                spaces, key_text, rest = match.groups()
                item = None
            else:
                content = line.lstrip(" ")
                if content[0] == "#":
                    continue
                if line == "---" and root is None:
                    continue  # the document's start
                item = item_line(line)
                if item is None:
                    raise _NotPlain(number)
                spaces, rest = item.groups()
            indent = len(spaces)
            if indent == 0 and line.startswith(("---", "...", "%")):
                raise _NotPlain(number)  # a document marker or a directive
            if pending is not None:
                mapping, key, parent_indent = pending
                pending = None
                if indent > parent_indent:
                    if match is not None:
                        top = LineDict()
                        top.lines = {}
                    else:
                        top = LineList()
                        top.lines = []
                    top.line = number
                    mapping[key] = top
                    top_indent = indent
                    stack.append((indent, top))
            elif root is None:
                if indent != 0 or match is None:
                    raise _NotPlain(number)
                root = top = LineDict()
                root.line = number
                root.lines = {}
                top_indent = 0
                stack.append((0, root))
            if indent != top_indent:
                while stack and stack[-1][0] > indent:
                    stack.pop()
                if not stack or stack[-1][0] != indent:
                    raise _NotPlain(number)  # deeper than its container, or between two
                top_indent, top = stack[-1]
            if match is not None:
                if top.__class__ is not LineDict or len(key_text) > 1000:
                    raise _NotPlain(number)  # (PyYAML's simple keys end at 1024 characters)
                key = known.get(key_text, _MISSING)
                if key is _MISSING:
                    key = scalar(key_text)
                top.lines[key] = number
                if rest is None or rest[0] == "#":
                    top[key] = None  # until a nested block says otherwise (keeps key order)
                    pending = (top, key, indent)
                else:
                    top[key] = value_of(rest, number)
            else:
                if top.__class__ is not LineList or rest[0] == "#" or key_line(rest):
                    raise _NotPlain(number)  # `- # x` (null item), `- key: value` (a mapping)
                top.append(value_of(rest, number))
                top.lines.append(number)
        if root is None:
            raise _NotPlain("empty")
        return root

    def value(self, rest: str, number: int) -> Any:
        """Return the value written after `key: ` or `- `: a scalar or a one-line flow one."""
        first = rest[0]
        if first == "{":
            end = rest.find("}")
            if end < 0 or (end + 1 < len(rest) and _TAIL.match(rest, end + 1) is None):
                raise _NotPlain(number)
            mapping = LineDict()
            mapping.line = number
            inner = rest[1:end]
            if inner.strip():
                # one C-level loop: each `key: value` text typed once (_Pairs.__missing__)
                mapping.update(map(self.pairs.__getitem__, inner.split(",")))
            mapping.lines = dict.fromkeys(mapping, number)
            return mapping
        if first == "[":
            end = rest.find("]")
            if end < 0 or (end + 1 < len(rest) and _TAIL.match(rest, end + 1) is None):
                raise _NotPlain(number)
            inner = rest[1:end]
            sequence = LineList(map(self.flow, inner.split(","))) if inner.strip() else LineList()
            sequence.line = number
            sequence.lines = [number] * len(sequence)
            return sequence
        found = _BLOCK_VALUE.match(rest)
        if found is None:
            raise _NotPlain(number)
        return self.scalar(found.group(1))

    def flow(self, text: str) -> Any:
        """Return the value of a plain scalar inside a flow collection (spaces around it)."""
        value = self.flow_known.get(text, _MISSING)
        if value is _MISSING:
            found = _FLOW_ITEM(text)
            if found is None:
                raise _NotPlain(text)
            value = self.flow_known[text] = self.scalar(found.group(1))
        return value

    def pair(self, text: str) -> tuple[Any, Any]:
        """Return the key and value of one `key: value` of a flow mapping."""
        key, colon, value = text.partition(": ")
        if not colon:
            raise _NotPlain(text)
        return self.flow(key), self.flow(value)


class _Pairs(dict[str, tuple[Any, Any]]):
    """The `key: value` texts of flow mappings, each read once by its reader."""

    def __init__(self, reader: _Reader) -> None:
        super().__init__()
        self.reader = reader

    def __missing__(self, text: str) -> tuple[Any, Any]:
        pair = self[text] = self.reader.pair(text)
        return pair
