"""`put`, `get` and `put_template` for one Connection: SFTP transfers through a temp file
(O_EXCL, fsync, rename) so that a failure or cancellation leaves the target as it was
(FIELD-NOTES §2 "transfers" and "recursive get", cases 47 to 52)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import functools
import hashlib
import io
import logging
import os
import posixpath
import secrets
import shlex
import shutil
import stat
import string
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any, Literal

from ..errors import (
    ConfigError,
    ConnectionLost,
    CorralError,
    TemplateError,
    TransferError,
    ValidationError,
)
from ..result import Result, TransferResult
from ..transport.sftp import (
    CLEANUP_TIMEOUT,
    RemoteFile,
    RemotePathError,
    RemoteStat,
    SFTPSession,
    quiet_dead_socket,
)
from ..transport.ssh import TransportClosed

if TYPE_CHECKING:
    from .connection import Connection

log = logging.getLogger("corral.transfer")

LocalPath = str | os.PathLike[str]
ProgressCallback = Callable[[int, int], None]

#: Placeholders `get(local=...)` fills in (Fabric's names).
PLACEHOLDERS = frozenset({"host", "user", "port", "basename", "dirname"})
#: Paths per `sha256sum` command when comparing many files.
HASH_BATCH = 200
#: A name byte limit of common file systems (NAME_MAX).
NAME_MAX = 255
#: Local reads and writes run in a worker thread this much at a time: one thread hop per
#: 256 KiB block cost more client CPU than the copying.
LOCAL_BATCH = 1024 * 1024


# ---------------------------------------------------------------------- pure path logic


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


# ---------------------------------------------------------------------- local sources


class _Refused(Exception):
    """A transfer cannot go on; the message says why (turned into a TransferError)."""


def _is_file_like(value: object) -> bool:
    return hasattr(value, "read") or hasattr(value, "write")


def _is_local_dir(path: str) -> bool:
    return os.path.isdir(path)


def _absolute(path: str) -> str:
    return os.path.abspath(path)


@dataclass
class _Source:
    """What an upload reads: an open local file, a caller's file-like object or bytes."""

    file: IO[bytes]
    display: str
    name: str | None
    mode: int | None
    size: int | None
    owned: bool
    start: int | None = None
    _ahead: memoryview | bytes = b""  # read from the file, not yet handed out

    @classmethod
    def open(cls, local: LocalPath | IO[bytes]) -> _Source:
        if _is_file_like(local):
            file: IO[bytes] = local  # type: ignore[assignment]
            name = getattr(file, "name", None)
            start = size = None
            with contextlib.suppress(OSError, ValueError, AttributeError):
                if file.seekable():  # Fabric reads a file-like object from its start
                    start = file.tell()
                    size = file.seek(0, os.SEEK_END)
                    file.seek(0)
            base = os.path.basename(name) if isinstance(name, str) and name else None
            return cls(file, repr(file), base, None, size, owned=False, start=start)
        path = os.path.abspath(os.fspath(local))  # type: ignore[arg-type]
        if os.path.isdir(path):
            raise _Refused(f"local {path} is a directory; pass recursive=True to upload it")
        file = open(path, "rb")  # closed by close()
        info = os.fstat(file.fileno())
        return cls(
            file, path, os.path.basename(path), stat.S_IMODE(info.st_mode), info.st_size, True
        )

    @classmethod
    def from_bytes(cls, data: bytes, display: str, name: str) -> _Source:
        return cls(io.BytesIO(data), display, name, None, len(data), owned=True, start=0)

    async def read(self, size: int) -> bytes:
        """Return the next `size` bytes (fewer at the end), read LOCAL_BATCH at a time."""
        if not self._ahead:
            data = await asyncio.to_thread(self.file.read, max(size, LOCAL_BATCH))
            if not isinstance(data, bytes | bytearray | memoryview):
                raise ConfigError(f"put: {self.display} must be opened in binary mode ('rb')")
            self._ahead = memoryview(data)
        chunk, self._ahead = self._ahead[:size], self._ahead[size:]
        return bytes(chunk)

    def rewind(self) -> None:
        if self.start is None and not self.owned:
            raise ConfigError("only_changed needs a seekable file-like object")
        self.file.seek(0)
        self._ahead = b""

    def sha256(self) -> str:
        self.rewind()
        digest = hashlib.sha256()
        while chunk := self.file.read(1 << 20):
            digest.update(chunk)
        self.rewind()
        return digest.hexdigest()

    def close(self) -> None:
        if self.owned:
            self.file.close()
        elif self.start is not None:
            with contextlib.suppress(OSError, ValueError):
                self.file.seek(self.start)


class _Meter:
    """Adds up bytes and reports `(done, total)` to the caller's progress callback."""

    def __init__(self, callback: ProgressCallback | None, total: int) -> None:
        self.callback = callback
        self.total = total
        self.done = 0

    def __call__(self, count: int) -> None:
        self.done += count
        if self.callback is not None:
            self.callback(self.done, self.total)

    def finish(self) -> None:
        if self.callback is not None and self.done == 0:
            self.callback(0, self.total)


# ---------------------------------------------------------------------- sessions and errors


@contextlib.asynccontextmanager
async def _sftp(conn: Connection, verb: str, local: str, remote: str) -> AsyncIterator[SFTPSession]:
    """Open an SFTP channel on the connection, reconnecting once if it had dropped."""
    with _translate(conn, verb, local, remote):
        for attempt in (1, 2):
            transport = await conn._ensure_open()
            try:
                session = await SFTPSession.start(transport)
                break
            except TransportClosed as exc:
                if attempt == 2:
                    raise ConnectionLost(conn.original_host, f"connection closed ({exc})") from None
    with quiet_dead_socket():
        try:
            yield session
        finally:
            await session.close()


def _local_reason(exc: OSError) -> str:
    where = f"local {exc.filename}" if exc.filename else "local file"
    if isinstance(exc, FileNotFoundError):
        return f"{where} does not exist"
    if isinstance(exc, PermissionError):
        return f"{where}: permission denied"
    if exc.errno == errno.ENOSPC:
        return f"{where}: no space left on device"
    return f"{where}: {exc.strerror or exc}"


@contextlib.contextmanager
def _translate(conn: Connection, verb: str, local: str, remote: str) -> Iterator[None]:
    """Turn what went wrong during a transfer into an error naming the host and both paths."""
    host = conn.original_host
    try:
        yield
    except ConnectionLost as exc:
        route = f"{local} -> {remote}" if verb == "put" else f"{remote} -> {local}"
        raise ConnectionLost(host, f"{exc.reason}; {verb} {route} did not finish") from None
    except CorralError:
        raise
    except _Refused as exc:
        raise TransferError(host, f"cannot {verb}: {exc}", local=local, remote=remote) from None
    except RemotePathError as exc:
        where = f"remote {exc.path}: " if exc.path else ""
        raise TransferError(
            host, f"cannot {verb}: {where}{exc.reason}", local=local, remote=remote
        ) from None
    except OSError as exc:
        raise TransferError(
            host, f"cannot {verb}: {_local_reason(exc)}", local=local, remote=remote
        ) from None


async def _bounded(awaitable: Awaitable[Any]) -> None:
    with contextlib.suppress(Exception, asyncio.TimeoutError):
        await asyncio.wait_for(awaitable, CLEANUP_TIMEOUT)


async def _discard(conn: Connection, sftp: SFTPSession, path: str) -> None:
    """Remove a temp file after a failure, through a new connection if the old one died."""
    try:
        await asyncio.wait_for(sftp.remove(path), CLEANUP_TIMEOUT)
        return
    except RemotePathError:
        return  # never created, or already gone
    except (ConnectionLost, asyncio.TimeoutError):
        pass
    except Exception:  # cleanup must not hide the error that brought us here
        log.debug("%s: could not remove %s", conn.original_host, path, exc_info=True)
        return

    async def again() -> None:
        async with _sftp(conn, "clean up", path, path) as fresh:
            await fresh.remove(path)

    await _bounded(again())


# ---------------------------------------------------------------------- uploads


def _token() -> str:
    return secrets.token_hex(8)


async def _create_temp(
    sftp: SFTPSession, directory: str, name: str, mode: int | None
) -> tuple[str, RemoteFile]:
    """Create an unguessable temp file in `directory`; a name someone else holds is skipped."""
    for attempt in range(3):
        path = posixpath.join(directory, temp_name(name, _token()))
        try:
            # 0600 while it fills when a final mode follows; else the server's default
            return path, await sftp.create(path, 0o600 if mode is not None else 0o666)
        except RemotePathError as exc:
            if exc.errno == errno.EACCES:
                raise _Refused(f"remote directory {directory} is not writable") from None
            if exc.errno != errno.EEXIST or attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _fill(file: RemoteFile, source: _Source, mode: int | None, meter: _Meter) -> int:
    """Stream `source` into an open remote file, set its mode, fsync and close it."""
    try:
        sent = await file.write_from(source.read, meter)
        if mode is not None:
            await file.chmod(mode)
        await file.fsync()
    except BaseException:
        await file.abort()
        raise
    await file.close()
    return sent


async def _check_parent(sftp: SFTPSession, target: str) -> None:
    directory = posixpath.dirname(target) or "/"
    parent = await sftp.stat(directory)
    if parent is None:
        raise _Refused(f"remote directory {directory} does not exist")
    if parent.kind != "dir":
        raise _Refused(f"remote {directory} is not a directory")


async def _put_file(
    conn: Connection,
    sftp: SFTPSession,
    source: _Source,
    target: str,
    *,
    mode: int | None,
    atomic: bool,
    meter: _Meter,
    existing: RemoteStat | None,
    before_rename: Callable[[str], Awaitable[None]] | None = None,
) -> int:
    """Write `source` to `target` (through a temp file when atomic); return the bytes sent."""
    if existing is not None and existing.kind == "dir":
        raise _Refused(f"remote {target} is a directory")
    if mode is None and existing is not None and existing.kind == "file":
        mode = existing.mode  # replacing a file keeps its mode, as writing in place would
    if not atomic:
        return await _fill(await sftp.open_write(target), source, mode, meter)
    directory, name = posixpath.split(target)
    temp, file = await _create_temp(sftp, directory or "/", name, mode)
    try:
        sent = await _fill(file, source, mode, meter)
        if before_rename is not None:
            await before_rename(temp)
        await sftp.rename(temp, target)
    except BaseException:
        await _discard(conn, sftp, temp)
        raise
    return sent


async def _put_link(
    conn: Connection, sftp: SFTPSession, link: str, path: str, existing: RemoteStat | None
) -> bool:
    """Make `path` a symlink to `link` (atomically replacing a file or link); True if changed."""
    if existing is not None:
        if existing.kind == "link" and await sftp.readlink(path) == link:
            return False
        if existing.kind == "dir":
            raise _Refused(f"remote {path} is a directory, local is a symlink")
    directory, name = posixpath.split(path)
    temp = posixpath.join(directory, temp_name(name, _token()))
    await sftp.symlink(link, temp)
    try:
        await sftp.rename(temp, path)
    except BaseException:
        await _discard(conn, sftp, temp)
        raise
    return True


async def _remote_hashes(
    conn: Connection, sftp: SFTPSession, paths: Sequence[str]
) -> dict[str, str]:
    """Return the sha256 of remote files: by `sha256sum`, else by reading them over SFTP."""
    hashes: dict[str, str] = {}
    for start in range(0, len(paths), HASH_BATCH):
        result: Result = await conn.run(
            ["sha256sum", "-z", "--", *paths[start : start + HASH_BATCH]],
            hide=True,
            warn=True,
            in_stream=False,
            echo=False,
        )
        hashes.update(parse_sha256sum(result.stdout_bytes))
    for path in paths:
        if path in hashes:
            continue
        digest = hashlib.sha256()

        async def update(data: bytes, digest: Any = digest) -> None:
            digest.update(data)

        try:
            file = await sftp.open_read(path)
            try:
                await file.read_into(update, (await file.stat()).size)
            finally:
                await file.abort()
        except RemotePathError:
            continue  # unreadable: counts as different
        hashes[path] = digest.hexdigest()
    return hashes


async def _unchanged(
    conn: Connection, sftp: SFTPSession, candidates: Sequence[tuple[str, Callable[[], str]]]
) -> set[str]:
    """Return the remote paths whose sha256 equals that of their local side."""
    if not candidates:
        return set()
    remote = await _remote_hashes(conn, sftp, [path for path, _ in candidates])
    return {
        path
        for path, local_hash in candidates
        if path in remote and remote[path] == await asyncio.to_thread(local_hash)
    }


async def _put_target(
    sftp: SFTPSession, conn: Connection, remote: str | None, name: str | None
) -> str:
    """Resolve where a file goes: a directory target gets the local name appended."""
    target, wants_dir = resolve_remote(remote, conn.cwd, await sftp.realpath("."))
    found = await sftp.stat(target)
    if wants_dir or (found is not None and found.kind == "dir"):
        if found is None:
            raise _Refused(f"remote directory {target} does not exist")
        if found.kind != "dir":
            raise _Refused(f"remote {target} is not a directory")
        if not name:
            raise ConfigError(
                f"put: a file-like object without a name cannot go into directory {target}; "
                "give the full remote file path"
            )
        target = posixpath.join(target, name)
    return target


async def put(
    conn: Connection,
    local: LocalPath | IO[bytes],
    remote: str | None = None,
    preserve_mode: bool = True,
    *,
    recursive: bool = False,
    only_changed: bool = False,
    progress: ProgressCallback | None = None,
    atomic: bool = True,
    sudo: bool = False,
    owner: str | None = None,
    mode: int | None = None,
) -> TransferResult:
    """Upload a local file (or a directory, with recursive=True) to the host, atomically.

    Args:
        remote: the remote file or directory, relative to cd() or the home directory; a
            directory (existing, or ending in `/`) receives the local file's name.
        preserve_mode: give the remote file the local file's permission bits.
        only_changed: skip files whose remote copy has the same size and sha256.
        progress: called as `progress(bytes_done, total)`; total is -1 when unknown.
        atomic: write a temp file and rename it over the target; False writes in place.
        sudo: move the file into place as root, from a private `mktemp -d` directory.
        owner, mode: with sudo, the new file's owner; `mode` overrides preserve_mode.
    """
    file_like = _is_file_like(local)
    path = os.fspath(local) if isinstance(local, str | os.PathLike) else None
    if path is None and not file_like:
        raise ConfigError(f"put: local must be a path or a binary file object, not {local!r}")
    if path == "":
        raise ConfigError("put: the local path is empty")
    if file_like and not remote:
        raise ConfigError("put: give a remote path when local is a file-like object")
    if owner is not None and not sudo:
        raise ConfigError("put: owner= needs sudo=True")
    if recursive and path is not None and _is_local_dir(path):
        if sudo:
            raise ConfigError("put: recursive=True cannot be combined with sudo=True")
        return await _put_tree(
            conn,
            path,
            remote,
            preserve_mode,
            only_changed=only_changed,
            progress=progress,
            atomic=atomic,
        )
    display = repr(local) if path is None else _absolute(path)
    with _translate(conn, "put", display, remote or "~"):
        source = _Source.open(local)
    try:
        final_mode = mode if mode is not None else (source.mode if preserve_mode else None)
        if sudo:
            return await _put_sudo(
                conn,
                source,
                local,
                remote,
                mode=final_mode,
                owner=owner,
                only_changed=only_changed,
                progress=progress,
            )
        return await _put_one(
            conn,
            source,
            local,
            remote,
            mode=final_mode,
            only_changed=only_changed,
            progress=progress,
            atomic=atomic,
        )
    finally:
        source.close()


async def _put_one(
    conn: Connection,
    source: _Source,
    orig_local: Any,
    remote: str | None,
    *,
    mode: int | None,
    only_changed: bool,
    progress: ProgressCallback | None,
    atomic: bool,
    validate: str | None = None,
) -> TransferResult:
    """Upload one file through SFTP as the login user."""
    local_value: Any = source.display if source.owned else source.file
    target = remote or "~"
    async with _sftp(conn, "put", source.display, target) as sftp:
        with _translate(conn, "put", source.display, target):
            target = await _put_target(sftp, conn, remote, source.name)
        with _translate(conn, "put", source.display, target):
            await _check_parent(sftp, target)
            existing = await sftp.lstat(target)
            if (
                only_changed
                and existing is not None
                and existing.kind == "file"
                and existing.size == source.size
                and await _unchanged(conn, sftp, [(target, source.sha256)])
            ):
                changed = mode is not None and existing.mode != mode
                if mode is not None and changed:
                    await sftp.chmod(target, mode)
                return _result(conn, local_value, orig_local, target, remote, changed, 0, 0)

            async def check(path: str) -> None:
                assert validate is not None
                result = await conn.run(
                    validate.replace("{path}", shlex.quote(path)),
                    hide=True,
                    warn=True,
                    in_stream=False,
                    echo=False,
                )
                if not result.ok:
                    raise ValidationError(result, local=source.display, remote=target)

            meter = _Meter(progress, source.size if source.size is not None else -1)
            sent = await _put_file(
                conn,
                sftp,
                source,
                target,
                mode=mode,
                atomic=atomic,
                meter=meter,
                existing=existing,
                before_rename=check if validate else None,
            )
            meter.finish()
    return _result(conn, local_value, orig_local, target, remote, True, sent, 1)


def _result(
    conn: Connection,
    local: Any,
    orig_local: Any,
    remote: str,
    orig_remote: str | None,
    changed: bool,
    sent: int,
    files: int,
) -> TransferResult:
    return TransferResult(
        local=local,
        orig_local=orig_local,
        remote=remote,
        orig_remote=orig_remote,
        connection=conn._public,
        host=conn.original_host,
        changed=changed,
        bytes=sent,
        files=files,
    )


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
    conn: Connection,
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
    with _translate(conn, "put", root, remote or "~"):
        entries = await asyncio.to_thread(_walk_local, root)
    meter = _Meter(progress, sum(entry.size for entry in entries))
    changed, sent, files = False, 0, 0
    target = remote or "~"
    async with _sftp(conn, "put", root, target) as sftp:
        with _translate(conn, "put", root, target):
            target, _ = resolve_remote(remote, conn.cwd, await sftp.realpath("."))
            found = await sftp.stat(target)
            if found is not None and found.kind == "dir":  # into it, as cp -r does
                target = posixpath.join(target, os.path.basename(root))
            elif found is not None:
                raise _Refused(f"remote {target} exists and is not a directory")
        with _translate(conn, "put", root, target):
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
                same = await _unchanged(conn, sftp, candidates)
            for entry in entries:
                path = posixpath.join(target, entry.relative)
                local_path = os.path.join(root, *entry.relative.split("/"))
                mode = entry.mode if preserve_mode else None
                if entry.kind == "link":
                    changed |= await _put_link(conn, sftp, entry.link, path, existing[path])
                elif entry.kind == "file" and path in same:
                    found = existing[path]
                    if mode is not None and found is not None and found.mode != mode:
                        await sftp.chmod(path, mode)
                        changed = True
                elif entry.kind == "file":
                    source = _Source.open(local_path)
                    try:
                        sent += await _put_file(
                            conn,
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
    return _result(conn, root, local, target, remote, changed, sent, files)


# ---------------------------------------------------------------------- sudo uploads


def install_script(
    staged: str,
    target: str,
    name: str,
    *,
    into_directory: bool,
    mode: int | None = None,
    owner: str | None = None,
    only_changed: bool = False,
    validate: str | None = None,
) -> str:
    """Return the shell script that root runs to move a staged upload into place atomically.

    A directory target gets `name` appended. The new file is written to a `mktemp` name
    next to the target, given the old file's owner and mode (or `owner`/`mode`), validated,
    and renamed over the target. Output lines starting `corral:` report what happened; exit
    status 3 means the directory is missing, 4 that validation failed.
    """
    q = shlex.quote
    lines = ["set -eu", f"src={q(staged)}"]
    missing = 'echo "corral:no-directory" >&2; exit 3'
    if name:
        lines.append(
            f"if [ -d {q(target)} ]; then dst={q(posixpath.join(target, name))}; "
            f"dir={q(target)}; echo corral:into-directory; "
            + (
                f"else {missing}; fi"
                if into_directory
                else f"else dst={q(target)}; dir={q(posixpath.dirname(target) or '/')}; fi"
            )
        )
    else:
        lines.append(f"dst={q(target)}; dir={q(posixpath.dirname(target) or '/')}")
    lines.append(f'[ -d "$dir" ] || {{ {missing}; }}')
    if only_changed:
        same = ['[ -f "$dst" ]', 'cmp -s -- "$src" "$dst"']
        if mode is not None:
            same.append(f'[ "$(stat -c %a -- "$dst")" = {mode:o} ]')
        if owner is not None:
            fmt = "%U:%G" if ":" in owner else "%U"
            same.append(f'[ "$(stat -c {fmt} -- "$dst")" = {q(owner)} ]')
        lines.append(f"if {' && '.join(same)}; then echo corral:unchanged; exit 0; fi")
    lines += [
        'tmp=$(mktemp -- "$dir/.corral-XXXXXXXXXXXX")',
        "trap 'rm -f -- \"$tmp\"' EXIT",
        'cat -- "$src" > "$tmp"',
        'if [ -e "$dst" ]; then chown --reference="$dst" -- "$tmp"; '
        'chmod --reference="$dst" -- "$tmp"; '
        'else m=$(umask); chmod "$(printf %o $((0666 & ~m)))" -- "$tmp"; fi',
    ]
    if owner is not None:
        lines.append(f'chown -- {q(owner)} "$tmp"')
    if mode is not None:
        lines.append(f'chmod -- {mode:o} "$tmp"')
    if validate is not None:
        check = validate.replace("{path}", '"$tmp"')
        lines.append(
            f"rc=0; ( {check}\n) || rc=$?; "  # a subshell: its `exit` is not ours
            'if [ "$rc" -ne 0 ]; then echo "corral:invalid:$rc" >&2; exit 4; fi'
        )
    lines += ['mv -fT -- "$tmp" "$dst"', "trap - EXIT"]
    return "\n".join(lines) + "\n"


def _without_markers(data: bytes) -> bytes:
    return b"".join(
        line for line in data.splitlines(keepends=True) if not line.startswith(b"corral:")
    )


async def _put_sudo(
    conn: Connection,
    source: _Source,
    orig_local: Any,
    remote: str | None,
    *,
    mode: int | None,
    owner: str | None,
    only_changed: bool,
    progress: ProgressCallback | None,
    validate: str | None = None,
) -> TransferResult:
    """Upload to a private directory as the login user, then install the file as root."""
    local_value: Any = source.display if source.owned else source.file
    options: dict[str, Any] = {"hide": True, "warn": True, "in_stream": False, "echo": False}
    target = remote or "~"
    async with _sftp(conn, "put", source.display, target) as sftp:
        with _translate(conn, "put", source.display, target):
            target, into_directory = resolve_remote(remote, conn.cwd, await sftp.realpath("."))
            made = await conn.run(["mktemp", "-d"], **options)
            staging = made.stdout.strip()
            if not made.ok or not staging.startswith("/") or "\n" in staging:
                raise _Refused(f"mktemp -d failed on the host: {made.stderr.strip()}")
        try:
            with _translate(conn, "put", source.display, target):
                meter = _Meter(progress, source.size if source.size is not None else -1)
                sent = await _fill(
                    await sftp.create(posixpath.join(staging, "upload"), 0o600),
                    source,
                    None,
                    meter,
                )
                script = install_script(
                    posixpath.join(staging, "upload"),
                    target,
                    source.name or "",
                    into_directory=into_directory,
                    mode=mode,
                    owner=owner,
                    only_changed=only_changed,
                    validate=validate,
                )
                result = await conn.sudo(script, **options)
                if result.stdout.startswith("corral:into-directory") and source.name:
                    target = posixpath.join(target, source.name)
                if result.exited == 3:
                    missing = target if into_directory else posixpath.dirname(target)
                    raise _Refused(f"remote directory {missing} does not exist")
                if result.exited == 4 and validate is not None:
                    marker = result.stderr.rsplit("corral:invalid:", 1)[-1].split()[0]
                    checked = Result(
                        command=validate,
                        exited=int(marker) if marker.isdigit() else 1,
                        host=conn.original_host,
                        stdout_bytes=_without_markers(result.stdout_bytes),
                        stderr_bytes=_without_markers(result.stderr_bytes),
                    )
                    raise ValidationError(checked, local=source.display, remote=target)
                if not result.ok:
                    tail = result.stderr.strip().splitlines()[-3:]
                    raise _Refused(f"installing as root failed: {' / '.join(tail)}")
                meter.finish()
        finally:
            await _bounded(conn.run(["rm", "-rf", "--", staging], **options))
    changed = "corral:unchanged" not in result.stdout
    return _result(
        conn, local_value, orig_local, target, remote, changed, sent, 1 if changed else 0
    )


# ---------------------------------------------------------------------- downloads


async def _receive(
    file: RemoteFile, size: int, write: Callable[[bytes], object], meter: _Meter
) -> int:
    """Read a remote file into `write`, which runs in a worker thread once per LOCAL_BATCH."""
    chunks: list[bytes] = []
    held = 0

    async def flush() -> None:
        nonlocal held
        if chunks:
            data = b"".join(chunks)
            chunks.clear()
            held = 0
            await asyncio.to_thread(write, data)

    async def collect(data: bytes) -> None:
        nonlocal held
        chunks.append(data)
        held += len(data)
        if held >= LOCAL_BATCH:
            await flush()

    received = await file.read_into(collect, size, meter)
    await flush()
    return received


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _local_mode(path: str, remote_mode: int | None) -> int:
    """Return the mode for a downloaded file: the remote one, the replaced file's, or default."""
    if remote_mode is not None:
        return remote_mode & 0o777  # never setuid, setgid or sticky from a server
    with contextlib.suppress(OSError):
        info = os.stat(path)
        if stat.S_ISREG(info.st_mode):
            return stat.S_IMODE(info.st_mode)
    return default_mode()


async def _download(
    sftp: SFTPSession, remote: str, local: str, *, preserve_mode: bool, meter: _Meter
) -> int:
    """Copy a remote file to `local` through a temp file beside it; return the bytes read."""
    directory, name = os.path.split(local)
    file = await sftp.open_read(remote)
    try:
        info = await file.stat()
        meter.total = info.size
        try:  # mkstemp: O_CREAT|O_EXCL|O_NOFOLLOW, mode 0600
            fd, temp = tempfile.mkstemp(prefix=".corral-", suffix=f"-{name[-100:]}", dir=directory)
        except PermissionError:
            raise _Refused(f"local directory {directory} is not writable") from None
        try:
            got = await _receive(file, info.size, functools.partial(_write_all, fd), meter)
            os.fchmod(fd, _local_mode(local, info.mode if preserve_mode else None))
            await asyncio.to_thread(os.fsync, fd)
            os.close(fd)
            fd = -1
            os.replace(temp, local)
        except BaseException:
            if fd >= 0:
                os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise
    finally:
        await file.abort()
    return got


async def _download_into(sftp: SFTPSession, remote: str, target: IO[bytes], meter: _Meter) -> int:
    file = await sftp.open_read(remote)
    try:
        info = await file.stat()
        meter.total = info.size
        return await _receive(file, info.size, target.write, meter)
    finally:
        await file.abort()


def _local_target(template: str, values: Mapping[str, str]) -> str:
    """Return the absolute local path of a download; a directory gets the remote name."""
    try:
        target = expand_local(template, values)
    except ValueError as exc:
        raise _Refused(str(exc)) from None
    if target.endswith(os.sep) or os.path.isdir(target):
        target = os.path.join(target, values["basename"])
    return os.path.abspath(target)


def _placeholder_values(conn: Connection, remote: str) -> dict[str, str]:
    return {
        "host": str(conn.host),
        "user": str(conn.user),
        "port": str(conn.port),
        "basename": posixpath.basename(remote),
        "dirname": posixpath.dirname(remote),
    }


async def get(
    conn: Connection,
    remote: str,
    local: LocalPath | IO[bytes] | None = None,
    preserve_mode: bool = True,
    *,
    recursive: bool = False,
    progress: ProgressCallback | None = None,
) -> TransferResult:
    """Download a remote file (or a directory, with recursive=True) from the host.

    Args:
        local: a path, a directory (existing, or ending in the separator) that receives the
            remote name, or a binary file object; default: the remote name in the current
            directory. `{host}`, `{user}`, `{port}`, `{basename}` and `{dirname}` are filled
            in, and must not lead outside the directory written before the first of them.
        preserve_mode: give the local file the remote file's permission bits.
        progress: called as `progress(bytes_done, total)`.
    """
    if not remote:
        raise ConfigError("get: the remote path is empty")
    host = conn.original_host
    if local is not None and _is_file_like(local):
        if recursive:
            raise ConfigError("get: recursive=True needs a local directory, not a file object")
        if isinstance(local, io.TextIOBase):
            raise ConfigError(f"get: {local!r} must be opened in binary mode ('wb')")
        async with _sftp(conn, "get", repr(local), remote) as sftp:
            with _translate(conn, "get", repr(local), remote):
                path, _ = resolve_remote(remote, conn.cwd, await sftp.realpath("."))
            with _translate(conn, "get", repr(local), path):
                meter = _Meter(progress, -1)
                got = await _download_into(sftp, path, local, meter)  # type: ignore[arg-type]
                meter.finish()
        return _result(conn, local, local, path, remote, True, got, 1)
    template = os.fspath(local) if isinstance(local, str | os.PathLike) and local else "{basename}"
    # Check the connection's values before connecting: a hostile alias must not get far.
    early = dict.fromkeys(("basename", "dirname"), "x")
    try:
        expand_local(template, {**_placeholder_values(conn, remote), **early})
    except ValueError as exc:
        raise TransferError(host, f"cannot get: {exc}", local=template, remote=remote) from None
    async with _sftp(conn, "get", template, remote) as sftp:
        with _translate(conn, "get", template, remote):
            path, _ = resolve_remote(remote, conn.cwd, await sftp.realpath("."))
            target = _local_target(template, _placeholder_values(conn, path))
        with _translate(conn, "get", target, path):
            found = await sftp.stat(path)
            if found is None:
                raise _Refused(f"remote {path} does not exist")
            if found.kind == "dir" and not recursive:
                raise _Refused(f"remote {path} is a directory; pass recursive=True to download it")
            if found.kind not in ("dir", "file"):
                raise _Refused(f"remote {path} is not a regular file")
            _make_parents(target)
            meter = _Meter(progress, -1)
            if found.kind == "dir":
                got, files = await _get_tree(sftp, path, found.mode, target, preserve_mode, meter)
            else:
                got, files = (
                    await _download(sftp, path, target, preserve_mode=preserve_mode, meter=meter),
                    1,
                )
            meter.finish()
    return _result(conn, target, local, path, remote, True, got, files)


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
                raise _Refused(str(exc)) from None
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


# ---------------------------------------------------------------------- templates


def _render(
    host: str,
    path: str,
    remote: str,
    context: Mapping[str, Any],
    engine: Literal["jinja2", "string"],
) -> str:
    """Render a template file with `context`; a missing variable is a TemplateError naming it."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except OSError as exc:
        raise TransferError(
            host, f"cannot read template: {_local_reason(exc)}", local=path, remote=remote
        ) from None
    except UnicodeDecodeError as exc:
        raise TemplateError(
            host, f"template is not UTF-8 text ({exc.reason})", local=path, remote=remote
        ) from None
    if engine == "string":
        try:
            return string.Template(text).substitute(context)
        except KeyError as exc:
            reason = f"template variable ${exc.args[0]} is undefined"
        except ValueError as exc:
            reason = f"template syntax error: {exc}"
        raise TemplateError(host, reason, local=path, remote=remote)
    if engine != "jinja2":
        raise ConfigError(f"put_template: engine must be 'jinja2' or 'string', not {engine!r}")
    import jinja2  # here: only template users pay for importing it

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(os.path.dirname(path)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,  # configuration files, not HTML
    )
    try:
        return environment.from_string(text).render(dict(context))
    except jinja2.UndefinedError as exc:
        reason = f"template variable undefined: {exc.message}"
    except jinja2.TemplateSyntaxError as exc:
        reason = f"template syntax error on line {exc.lineno}: {exc.message}"
    except jinja2.TemplateError as exc:
        reason = f"template error: {exc.message}"
    raise TemplateError(host, reason, local=path, remote=remote)


async def put_template(
    conn: Connection,
    template: LocalPath,
    remote: str,
    context: Mapping[str, Any] | None = None,
    *,
    engine: Literal["jinja2", "string"] = "jinja2",
    validate: str | None = None,
    mode: int | None = None,
    sudo: bool = False,
    owner: str | None = None,
) -> TransferResult:
    """Render a template locally and upload the result atomically, validated if asked.

    Args:
        engine: "jinja2" (StrictUndefined: a missing variable is an error) or "string"
            (`string.Template.substitute`).
        validate: a command run on the uploaded temp file before it replaces the target,
            with `{path}` replaced by its quoted path, e.g. "nginx -t -c {path}"; when it
            fails the target is left as it was and ValidationError carries its output.
        mode, sudo, owner: as for put; by default an existing target keeps its mode.
    """
    if not remote:
        raise ConfigError("put_template: the remote path is empty")
    if validate is not None and "{path}" not in validate:
        raise ConfigError(f"put_template: validate command {validate!r} lacks {{path}}")
    if owner is not None and not sudo:
        raise ConfigError("put_template: owner= needs sudo=True")
    path = _absolute(os.fspath(template))
    text = await asyncio.to_thread(_render, conn.original_host, path, remote, context or {}, engine)
    name = os.path.basename(path).removesuffix(".j2") or os.path.basename(path)
    source = _Source.from_bytes(text.encode("utf-8"), path, name)
    if sudo:
        return await _put_sudo(
            conn,
            source,
            template,
            remote,
            mode=mode,
            owner=owner,
            only_changed=False,
            progress=None,
            validate=validate,
        )
    return await _put_one(
        conn,
        source,
        template,
        remote,
        mode=mode,
        only_changed=False,
        progress=None,
        atomic=True,
        validate=validate,
    )
