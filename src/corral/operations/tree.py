"""`copy_tree`: make a remote directory tree match a local one, sending only what differs.

One probe lists the remote tree (type, mode, owner, group, symlink target) with the
checksum of every file. The files and symlinks that differ travel as one tar stream to a
staging directory inside the target, and each is renamed into place (atomic per file), in
one command; modes, owners and, with `delete=True`, extra entries are fixed in the same
command. The remote side needs GNU find and coreutils (or their busybox equivalents with
-printf and sha256sum -z) and tar.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import io
import os
import shlex
import stat
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import StateConflictError
from ..runner.command import quote_path
from .diff import file_diff
from .files import check_path
from .result import OpResult
from .scripts import ownership
from .step import Step

if TYPE_CHECKING:
    from ..remote.connection import Connection

SUMS = "corral:sums"
STAGING_PREFIX = ".corral-tree-"
#: Changed files whose old content is read back for the diff, at most (each <= 1 MiB).
DIFF_FILES = 50


@dataclass(frozen=True)
class Entry:
    """One entry of a tree: its kind (f, d, l), mode, owner, group, checksum or target."""

    kind: str
    mode: int = 0
    owner: str = ""
    group: str = ""
    sha256: str | None = None
    target: str | None = None
    size: int = 0


@dataclass
class Plan:
    """What copy_tree has to do to the remote tree (relative paths, parents first)."""

    replace: list[str] = field(default_factory=list)  # wrong kind there: removed first
    directories: list[str] = field(default_factory=list)
    send: list[str] = field(default_factory=list)  # files and symlinks, in the tar stream
    chmod: list[tuple[str, int]] = field(default_factory=list)
    chown: list[str] = field(default_factory=list)
    delete: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return any((self.replace, self.directories, self.send, self.chmod, self.chown, self.delete))

    def summary(self) -> str:
        """Return a few words on the plan (`2 files sent, 1 deleted`)."""
        parts = []
        sent = len(self.send)
        for count, words in (
            (len(self.directories), "director{y} created"),
            (sent, "file{s} sent"),
            (len(self.chmod), "mode{s} set"),
            (len(self.chown), "owner{s} set"),
            (len(self.delete), "deleted"),
        ):
            if count:
                plural = count != 1
                text = words.replace("{s}", "s" if plural else "").replace(
                    "{y}", "ies" if plural else "y"
                )
                parts.append(f"{count} {text}")
        return ", ".join(parts)


def excluded(path: str, patterns: Sequence[str]) -> bool:
    """True when a relative path, or its last part, matches an exclude pattern."""
    name = path.rsplit("/", 1)[-1]
    return any(fnmatch.fnmatch(path, p) or fnmatch.fnmatch(name, p) for p in patterns)


def scan_local(root: str, exclude: Sequence[str] = ()) -> dict[str, Entry]:
    """Return the local tree under `root`: relative path -> Entry (symlinks not followed)."""
    entries: dict[str, Entry] = {}
    for directory, dirs, files in os.walk(root):
        rel_dir = os.path.relpath(directory, root)
        for name in sorted(dirs + files):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if excluded(rel, exclude):
                if name in dirs:
                    dirs.remove(name)
                continue
            full = os.path.join(directory, name)
            info = os.lstat(full)
            mode = stat.S_IMODE(info.st_mode)
            if stat.S_ISLNK(info.st_mode):
                entries[rel] = Entry("l", target=os.readlink(full))
            elif stat.S_ISDIR(info.st_mode):
                entries[rel] = Entry("d", mode)
            elif stat.S_ISREG(info.st_mode):
                digest = hashlib.sha256()
                with open(full, "rb") as handle:
                    for chunk in iter(lambda: handle.read(1 << 20), b""):
                        digest.update(chunk)
                entries[rel] = Entry("f", mode, sha256=digest.hexdigest(), size=info.st_size)
    return entries


def probe_script(dest: str) -> str:
    """Return the probe that lists the remote tree and the checksum of each file."""
    return "\n".join([
        f"d={quote_path(dest)}",
        'if [ ! -e "$d" ]; then echo absent; exit 0; fi',
        'if [ ! -d "$d" ]; then echo notdir; exit 0; fi',
        'cd "$d" || exit 1',
        "echo tree",
        "find . -mindepth 1 -printf '%y %m %u %g %P\\0%l\\0'",
        f"printf '{SUMS}\\0'",
        "find . -type f -print0 | xargs -0r sha256sum -z",
    ])  # fmt: skip


def parse_probe(output: bytes) -> dict[str, Entry] | str:
    """Read the probe's output: the remote tree, or "absent" / "notdir"."""
    head, _, rest = output.partition(b"\n")
    word = head.decode()
    if word != "tree":
        return word
    fields = rest.decode("utf-8", "surrogateescape").split("\0")
    entries: dict[str, Entry] = {}
    index = 0
    while index < len(fields) and fields[index] != SUMS:
        kind, mode, owner, group, path = fields[index].split(" ", 4)
        link = fields[index + 1]
        index += 2
        if path.split("/", 1)[0].startswith(STAGING_PREFIX):
            continue
        entries[path] = Entry(kind, int(mode, 8), owner, group, target=link or None)
    for record in fields[index + 1 :]:
        if not record:
            continue
        digest, _, path = record.partition("  ")
        path = path.removeprefix("./")
        if path in entries:
            entries[path] = Entry(**{**entries[path].__dict__, "sha256": digest})
    return entries


def plan(
    local: dict[str, Entry],
    remote: dict[str, Entry],
    *,
    owner: str | None,
    group: str | None,
    delete: bool,
    exclude: Sequence[str],
) -> Plan:
    """Return what must change for the remote tree to match the local one."""
    todo = Plan()
    for path, want in local.items():
        have = remote.get(path)
        if have is not None and have.kind != want.kind:
            todo.replace.append(path)
            have = None
        if want.kind == "d":
            if have is None:
                todo.directories.append(path)
            elif have.mode != want.mode:
                todo.chmod.append((path, want.mode))
        elif want.kind == "f":
            if have is None or have.sha256 != want.sha256:
                todo.send.append(path)
            elif have.mode != want.mode:
                todo.chmod.append((path, want.mode))
        elif have is None or have.target != want.target:
            todo.send.append(path)
        if have is not None and path not in todo.send and _owner_differs(have, owner, group):
            todo.chown.append(path)
        elif (have is None or path in todo.send) and (owner or group):
            todo.chown.append(path)
    if delete:
        for path in sorted(remote, reverse=True):
            inside_deleted = any(path.startswith(d + "/") for d in todo.delete)
            if path not in local and not excluded(path, exclude) and not inside_deleted:
                todo.delete.append(path)
        todo.delete.reverse()
    return todo


def _owner_differs(entry: Entry, owner: str | None, group: str | None) -> bool:
    return bool((owner and entry.owner != owner) or (group and entry.group != group))


def tar_stream(root: str, local: dict[str, Entry], paths: Sequence[str]) -> bytes:
    """Return a tar of these files and symlinks (relative names, their modes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in paths:
            info = tar.gettarinfo(os.path.join(root, path), arcname=path)
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if local[path].kind == "f":
                with open(os.path.join(root, path), "rb") as handle:
                    tar.addfile(info, handle)
            else:
                tar.addfile(info)
    return buffer.getvalue()


def apply_script(dest: str, todo: Plan, *, owner: str | None, group: str | None) -> str:
    """Return the command that carries out the plan (the tar stream on its stdin)."""
    q = shlex.quote
    lines = [
        "set -eu",
        f"d={quote_path(dest)}",
        'mkdir -p -- "$d"',
        'cd "$d"',
    ]
    if todo.send:
        lines += [
            f"s=$(mktemp -d ./{STAGING_PREFIX}XXXXXXXX)",
            "trap 'rm -rf -- \"$s\"' EXIT",
            'tar -xpf - -C "$s" --no-same-owner',
        ]
    lines += [f"rm -rf -- {q(p)}" for p in todo.replace]
    lines += [f"mkdir -p -- {q(p)}" for p in todo.directories]
    lines += [f'mv -fT -- "$s"/{q(p)} {q(p)}' for p in todo.send]
    lines += [f"chmod -- {mode:o} {q(p)}" for p, mode in todo.chmod]
    chown = ownership(owner, group)
    if chown is not None and todo.chown:
        lines += [f"chown -h -- {q(chown)} {q(p)}" for p in todo.chown]
    lines += [f"rm -rf -- {q(p)}" for p in todo.delete]
    return "\n".join(lines) + "\n"


def old_contents_script(dest: str, paths: Sequence[str]) -> str:
    """Return the probe that prints each file's size and bytes (for the diffs)."""
    lines = [f"cd {quote_path(dest)} || exit 1"]
    for path in paths:
        q = shlex.quote(path)
        lines.append(f"printf '%s\\n' \"$(wc -c < {q})\"; cat -- {q}")
    return "\n".join(lines)


def parse_old_contents(output: bytes, paths: Sequence[str]) -> dict[str, bytes]:
    """Read `old_contents_script`'s output back: path -> bytes."""
    found: dict[str, bytes] = {}
    rest = output
    for path in paths:
        size_text, _, rest = rest.partition(b"\n")
        if not size_text.strip().isdigit():
            break
        size = int(size_text)
        found[path], rest = rest[:size], rest[size:]
    return found


def _scan(step: Step, root: str, exclude: Sequence[str]) -> dict[str, Entry]:
    if not root or not os.path.isdir(root):
        raise step.argument_error("src", f"{root!r} is not a local directory")
    return scan_local(root, exclude)


def _head(path: str) -> bytes:
    """Return a local file's first MiB and a byte (enough to tell it is larger)."""
    with open(path, "rb") as handle:
        return handle.read((1 << 20) + 1)


async def copy_tree(
    conn: Connection,
    src: str | os.PathLike[str],
    dest: str,
    *,
    owner: str | None = None,
    group: str | None = None,
    delete: bool = False,
    exclude: Sequence[str] = (),
    sudo: bool = False,
    check: bool | None = None,
    notify: Any = None,
) -> OpResult:
    """Make the remote directory `dest` hold what the local directory `src` holds.

    Only files that differ (by checksum), symlinks, modes and owners are changed; modes
    follow the local files. `delete=True` removes remote entries the local tree lacks
    (except those matching `exclude`, glob patterns on a path or a name, which are never
    copied either).
    """
    step = Step(conn, "copy_tree", str(dest), sudo=sudo, check=check, notify=notify)
    async with step:
        check_path(step, dest, "dest")
        if isinstance(exclude, str):
            exclude = [exclude]
        root = os.fspath(src) if isinstance(src, str | os.PathLike) else ""
        local = await asyncio.to_thread(_scan, step, root, exclude)
        if step.dry:
            return step.dry_run()
        result = await step.probe(probe_script(dest), describe=f"list {dest}")
        remote = parse_probe(result.stdout_bytes)
        if remote == "notdir":
            raise step.error(StateConflictError, "dest", f"{dest} exists and is not a directory")
        exists = remote != "absent"
        if isinstance(remote, str):
            if remote != "absent":
                raise step.failed(result, "dest", f"cannot list {dest}")
            remote = {}
        todo = plan(local, remote, owner=owner, group=group, delete=delete, exclude=exclude)
        if not todo and exists:
            return step.done(False)
        diff = await _diffs(step, dest, local, remote, todo, root)
        data = await asyncio.to_thread(tar_stream, root, local, todo.send) if todo.send else None
        await step.change(
            apply_script(dest, todo, owner=owner, group=group),
            argument="dest",
            describe=f"update {dest}: {todo.summary()}",
            data=data,
            what=f"updating {dest} failed",
        )
        return step.done(True, todo.summary() or "create the directory", diff)


async def _diffs(
    step: Step,
    dest: str,
    local: dict[str, Entry],
    remote: dict[str, Entry],
    todo: Plan,
    root: str,
) -> str | None:
    """Return the diffs of the files sent and deleted (old content read in one probe)."""
    files = [p for p in todo.send if local[p].kind == "f"]
    changed = [p for p in files if p in remote and remote[p].kind == "f"][:DIFF_FILES]
    deleted = [p for p in todo.delete if remote[p].kind == "f"][:DIFF_FILES]
    old: dict[str, bytes] = {}
    if changed or deleted:
        read = await step.probe(
            old_contents_script(dest, changed + deleted), describe=f"read {dest} (diff)"
        )
        old = parse_old_contents(read.stdout_bytes, changed + deleted)
    parts = []
    for path in files:
        new = await asyncio.to_thread(_head, os.path.join(root, path))
        before = old.get(path) if path in remote else None
        if path in remote and before is None:
            before = b"\0(not read)"
        text = file_diff(f"{step.host}:{dest}/{path}", before, new, secrets=step.secrets)
        if text:
            parts.append(text)
    for path in deleted:
        text = file_diff(f"{step.host}:{dest}/{path}", old.get(path, b""), None)
        if text:
            parts.append(text)
    return "".join(parts) or None
