"""Recursive put and get: a local tree walked without following symlinks, uploaded file by
file; a remote tree with its listing checked, built in a private staging directory and
moved into place."""

from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import os
import posixpath
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ...result import TransferResult
from ...transport.sftp import RemoteStat, SFTPSession
from .download import _receive, _write_all
from .paths import check_listing, default_mode, resolve_remote
from .session import Endpoint, _Refused, _result, _sftp, _translate
from .source import ProgressCallback, _absolute, _Meter, _Source
from .upload import _check_parent, _put_file, _put_link, _unchanged

log = logging.getLogger("corral.transfer")


# ---------------------------------------------------------------------- recursive uploads


@dataclass(frozen=True)
class _LocalEntry:
    relative: str  # "/"-separated, "" for the root
    kind: Literal["dir", "file", "link"]
    mode: int
    size: int = 0
    link: str = ""


def _walk_local(root: str) -> list[_LocalEntry]:
    """List a local tree, parents before children, symlinks as themselves."""
    entries = [_LocalEntry("", "dir", stat.S_IMODE(os.stat(root).st_mode))]
    todo = [("", root)]
    while todo:
        relative, path = todo.pop()
        with os.scandir(path) as listing:
            children = sorted(listing, key=lambda entry: entry.name)
        for child in children:
            info = child.stat(follow_symlinks=False)
            rel = f"{relative}/{child.name}" if relative else child.name
            mode = stat.S_IMODE(info.st_mode)
            if child.is_symlink():
                entries.append(_LocalEntry(rel, "link", mode, link=os.readlink(child.path)))
            elif child.is_dir(follow_symlinks=False):
                entries.append(_LocalEntry(rel, "dir", mode))
                todo.append((rel, child.path))
            elif child.is_file(follow_symlinks=False):
                entries.append(_LocalEntry(rel, "file", mode, info.st_size))
            else:
                log.info("put: skipping %s (not a file, directory or symlink)", child.path)
    return entries


def _file_hash(path: str) -> Callable[[], str]:
    def digest() -> str:
        sha256 = hashlib.sha256()
        with open(path, "rb") as file:
            while chunk := file.read(1 << 20):
                sha256.update(chunk)
        return sha256.hexdigest()

    return digest


async def _put_tree(
    end: Endpoint,
    local: str,
    remote: str | None,
    preserve_mode: bool,
    *,
    only_changed: bool,
    progress: ProgressCallback | None,
    atomic: bool,
) -> TransferResult:
    """Upload a directory: directories created, files atomic one by one, symlinks recreated."""
    root = _absolute(local)
    with _translate(end, "put", root, remote or "~"):
        entries = await asyncio.to_thread(_walk_local, root)
    meter = _Meter(progress, sum(entry.size for entry in entries))
    changed, sent, files = False, 0, 0
    target = remote or "~"
    async with _sftp(end, "put", root, target) as sftp:
        with _translate(end, "put", root, target):
            target, _ = resolve_remote(remote, end.cwd, await sftp.realpath("."))
            found = await sftp.stat(target)
            if found is not None and found.kind == "dir":  # into it, as cp -r does
                target = posixpath.join(target, os.path.basename(root))
            elif found is not None:
                raise _Refused(f"remote {target} exists and is not a directory")
        with _translate(end, "put", root, target):
            await _check_parent(sftp, target)
            existing: dict[str, RemoteStat | None] = {}
            new_dirs: set[str] = set()
            dir_modes: list[tuple[str, int, RemoteStat | None]] = []
            for entry in entries:
                path = posixpath.join(target, entry.relative) if entry.relative else target
                parent = posixpath.dirname(path)
                found = None if parent in new_dirs else await sftp.lstat(path)
                existing[path] = found
                if entry.kind != "dir":
                    continue
                if found is None:
                    await sftp.mkdir(path, 0o700 if preserve_mode else None)
                    new_dirs.add(path)
                    changed = True
                elif found.kind != "dir":
                    raise _Refused(f"remote {path} exists and is not a directory")
                dir_modes.append((path, entry.mode, found))
            same: set[str] = set()
            if only_changed:
                candidates = []
                for entry in entries:
                    path = posixpath.join(target, entry.relative)
                    found = existing.get(path)
                    if entry.kind == "file" and found and found.kind == "file":
                        if found.size == entry.size:
                            candidates.append(
                                (path, _file_hash(os.path.join(root, entry.relative)))
                            )
                same = await _unchanged(end, sftp, candidates)
            for entry in entries:
                path = posixpath.join(target, entry.relative)
                local_path = os.path.join(root, *entry.relative.split("/"))
                mode = entry.mode if preserve_mode else None
                if entry.kind == "link":
                    changed |= await _put_link(end, sftp, entry.link, path, existing[path])
                elif entry.kind == "file" and path in same:
                    found = existing[path]
                    if mode is not None and found is not None and found.mode != mode:
                        await sftp.chmod(path, mode)
                        changed = True
                elif entry.kind == "file":
                    source = _Source.open(local_path, end.files)
                    try:
                        sent += await _put_file(
                            end,
                            sftp,
                            source,
                            path,
                            mode=mode,
                            atomic=atomic,
                            meter=meter,
                            existing=existing[path],
                        )
                    finally:
                        source.close()
                    files += 1
                    changed = True
            if preserve_mode:  # last, deepest first: a read-only directory is filled by now
                for path, mode, found in reversed(dir_modes):
                    if found is None or found.mode != mode:
                        await sftp.chmod(path, mode)
                        changed = True
            meter.finish()
    return _result(end, root, local, target, remote, changed, sent, files)


# ---------------------------------------------------------------------- recursive downloads


def _make_parents(path: str) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)


def _make_staging(target: str) -> tuple[str, str]:
    """Create a fresh private directory beside `target`; return it and its real path."""
    staging = tempfile.mkdtemp(prefix=".corral-", dir=os.path.dirname(target))  # 0700
    return staging, os.path.realpath(staging)


def _inside(path: str, root: str) -> None:
    real = os.path.realpath(path)
    if os.path.commonpath([real, root]) != root:
        raise _Refused(f"local {path} resolves outside {root}")


def _place(staging: str, target: str) -> None:
    """Move a finished tree into place: a rename, or a merge into an existing directory."""
    if not os.path.lexists(target):
        os.rename(staging, target)
        return
    if os.path.islink(target) or not os.path.isdir(target):
        raise _Refused(f"local {target} exists and is not a directory")
    for name in sorted(os.listdir(staging)):
        source, destination = os.path.join(staging, name), os.path.join(target, name)
        if os.path.isdir(source) and not os.path.islink(source):
            _place(source, destination)
        elif os.path.isdir(destination) and not os.path.islink(destination):
            raise _Refused(f"local {destination} is a directory, remote is a file")
        else:
            os.replace(source, destination)  # replaces a symlink itself, never its target


async def _get_tree(
    sftp: SFTPSession, remote: str, root_mode: int, target: str, preserve_mode: bool, meter: _Meter
) -> tuple[int, int]:
    """Download a remote directory: names checked, symlinks skipped, built in a temp tree."""
    staging, root = _make_staging(target)
    try:
        directories: list[tuple[str, int]] = []
        files: list[tuple[str, str, int, int]] = []
        todo = [(remote, "")]
        while todo:
            remote_dir, relative = todo.pop()
            listing = await sftp.listdir(remote_dir)
            try:
                names = check_listing([entry.name for entry in listing], remote_dir)
            except ValueError as exc:
                raise _Refused(str(exc)) from exc
            kinds = {entry.name: entry.stat for entry in listing}
            for name in names:
                info = kinds[name]
                child = f"{relative}/{name}" if relative else name
                remote_child = posixpath.join(remote_dir, name)
                local_child = os.path.join(staging, *child.split("/"))
                if info.kind == "dir":
                    os.mkdir(local_child, 0o700)
                    _inside(local_child, root)
                    directories.append((child, info.mode))
                    todo.append((remote_child, child))
                elif info.kind == "file":
                    files.append((remote_child, local_child, info.size, info.mode))
                else:
                    log.info("get: skipping %s:%s (%s)", sftp.label, remote_child, info.kind)
        meter.total = sum(size for _, _, size, _ in files)
        received = 0
        for remote_file, local_file, _, file_mode in files:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
            fd = os.open(local_file, flags, 0o600)
            try:
                handle = await sftp.open_read(remote_file)
                try:
                    size = (await handle.stat()).size
                    received += await _receive(
                        handle, size, functools.partial(_write_all, fd), meter
                    )
                finally:
                    await handle.abort()
                os.fchmod(fd, file_mode & 0o777 if preserve_mode else default_mode())
            finally:
                os.close(fd)
        _place(staging, target)
        modes = [("", root_mode), *directories] if preserve_mode else []
        for child, mode in reversed(modes):  # deepest first, after the tree is in place
            os.chmod(os.path.join(target, *child.split("/")) if child else target, mode & 0o777)
        return received, len(files)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
