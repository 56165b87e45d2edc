"""Pure path logic of put and get: remote resolution, local placeholders, server listings,
temp names, `sha256sum` output and the default file mode. No I/O beyond reading the umask."""

from __future__ import annotations

import contextlib
import os
import posixpath
import string
from collections.abc import Mapping, Sequence

from ...errors import ConfigError

LocalPath = str | os.PathLike[str]

#: Placeholders `get(local=...)` fills in (Fabric's names).
PLACEHOLDERS = frozenset({"host", "user", "port", "basename", "dirname"})
#: A name byte limit of common file systems (NAME_MAX).
NAME_MAX = 255


def remote_base(cwd: str | None, home: str) -> str:
    """Return the directory relative remote paths start from: the cd() directory or home."""
    return resolve_remote(cwd, None, home)[0] if cwd else home


def resolve_remote(remote: str | None, cwd: str | None, home: str) -> tuple[str, bool]:
    """Return the absolute remote path and whether it must be a directory (empty or `/`-ended).

    `~` and `~/x` mean the home directory, as in a shell; SFTP itself does not expand them.
    """
    if not remote:
        return remote_base(cwd, home), True
    wants_dir = remote.endswith("/")
    if remote == "~" or remote.startswith("~/"):
        path = posixpath.join(home, remote[2:])
    else:
        path = posixpath.join(remote_base(cwd, home), remote)
    return posixpath.normpath(path), wants_dir


def temp_name(name: str, token: str) -> str:
    """Return the hidden temp name for `name` in its own directory, within NAME_MAX bytes."""
    prefix = f".corral-{token}-"
    budget = NAME_MAX - len(prefix.encode())
    encoded = name.encode("utf-8", "surrogateescape")
    if len(encoded) > budget:  # keep the end: the extension matters to validators
        tail = encoded[-budget:]
        while tail and tail[0] & 0xC0 == 0x80:  # start on a whole character
            tail = tail[1:]
        name = tail.decode("utf-8", "surrogateescape")
    return prefix + name


def is_safe_name(name: str) -> bool:
    """True for a name usable as one path component: no `/`, `\\` or NUL, not `.` or `..`."""
    return bool(name) and name not in (".", "..") and not any(c in name for c in "/\\\0")


def check_listing(names: Sequence[str], directory: str) -> list[str]:
    """Return the names of a server's directory listing, without `.` and `..`.

    Raises ValueError for a name that is not one path component or that appears twice: a
    server sending either is broken or hostile (FIELD-NOTES case 50).
    """
    seen: set[str] = set()
    out: list[str] = []
    for name in names:
        if name in (".", ".."):
            continue
        if not is_safe_name(name):
            raise ValueError(f"the server listed an unsafe name {name!r} in {directory}")
        if name in seen:
            raise ValueError(f"the server listed {name!r} twice in {directory}")
        seen.add(name)
        out.append(name)
    return out


def expand_local(template: str, values: Mapping[str, str]) -> str:
    """Fill `{host}`-style placeholders of a local path, refusing values that move it.

    The result must stay inside the directory named before the first placeholder, and each
    value must be one path component (`dirname` may hold several, but no `..`).
    Raises ValueError naming the placeholder otherwise.
    """
    fields = list(string.Formatter().parse(template))
    if all(name is None for _, name, _, _ in fields):
        return template.replace("{{", "{").replace("}}", "}")
    out: list[str] = []
    anchor: str | None = None
    for literal, name, spec, conversion in fields:
        out.append(literal)
        if name is None:
            continue
        if anchor is None:
            anchor = os.path.dirname("".join(out))
        if name not in PLACEHOLDERS or spec or conversion:
            wanted = ", ".join("{" + p + "}" for p in sorted(PLACEHOLDERS))
            raise ValueError(
                f"local path {template!r}: unknown placeholder {{{name}}}; use {wanted}"
            )
        value = values[name]
        if name == "dirname":
            parts = value.split("/")
            if "\0" in value or "\\" in value or ".." in parts:
                raise ValueError(f"{{dirname}} value {value!r} is not a safe path")
        elif not is_safe_name(value):
            raise ValueError(f"{{{name}}} value {value!r} is not a safe file name")
        out.append(value)
    result = "".join(out)
    root = os.path.abspath(anchor or os.curdir)
    absolute = os.path.abspath(result)
    if os.path.commonpath([root, absolute]) != root:
        raise ValueError(f"local path {result!r} would leave {root}")
    return result


def parse_sha256sum(output: bytes) -> dict[str, str]:
    """Map each path to its digest in `sha256sum -z` output (NUL-ended `HEX  PATH` records)."""
    hashes: dict[str, str] = {}
    for record in output.split(b"\0"):
        digest, sep, path = record.partition(b" ")
        if not sep or len(digest) != 64 or path[:1] not in (b" ", b"*"):
            continue
        hashes[path[1:].decode("utf-8", "surrogateescape")] = digest.decode("ascii").lower()
    return hashes


def default_mode() -> int:
    """Return 0o666 less this process's umask (read without changing it)."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    return 0o644


def check_paths(host: str, verb: str, **paths: object) -> None:
    """Refuse a path holding a NUL byte, naming the host and which path: no file name can
    hold one, and OpenSSH's sftp-server ends the session over it."""
    for which, path in paths.items():
        if isinstance(path, str | os.PathLike) and "\0" in os.fspath(path):
            raise ConfigError(
                f"{host}: {verb}: the {which} path {os.fspath(path)!r} contains a NUL byte, "
                "which no file name can hold; nothing was sent"
            )
