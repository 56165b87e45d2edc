"""`SFTPSession`: one SFTP channel, with pipelined reads and writes of bounded memory.

asyncssh's SFTP errors become `RemotePathError` (an errno, a reason and the remote path) or
`ConnectionLost` here, at the boundary; nothing above this module sees asyncssh.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import contextvars
import errno
import functools
import logging
import re
import stat
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal, cast

import asyncssh

from ..errors import ConnectionLost
from .budget import TransferBudget
from .ssh import SSHTransport, TransportClosed

#: Largest read or write request: OpenSSH's sftp-server refuses messages over 256 KiB.
BLOCK_SIZE = 256 * 1024
#: Requests in flight per file, so one transfer holds at most BLOCK_SIZE * 16 = 4 MiB.
MAX_REQUESTS = 16
#: Seconds allowed for closing a channel or removing a temp file after a failure.
CLEANUP_TIMEOUT = 10.0

#: True in the context of a transfer (see quiet_dead_socket).
_TRANSFERRING = contextvars.ContextVar("corral_transferring", default=False)


class _DeadSocketNoise(logging.Filter):
    """Drop asyncio's "socket.send() raised exception." inside a transfer's context."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (_TRANSFERRING.get() and record.msg == "socket.send() raised exception.")


_NOISE = _DeadSocketNoise()


@contextlib.contextmanager
def quiet_dead_socket() -> Iterator[None]:
    """Silence asyncio's warning per write to a dead socket while this context transfers.

    A socket error closes asyncio's transport at once but reaches asyncssh a loop turn
    later; blocks in flight (and the cleanup's requests) are written meanwhile, and asyncio
    warns for each. The transfer reports the lost connection itself, so they are noise.
    Tasks created inside the block inherit it; warnings of other code still show.
    """
    _install_noise_filter()
    token = _TRANSFERRING.set(True)
    try:
        yield
    finally:
        _TRANSFERRING.reset(token)


@functools.cache
def _install_noise_filter() -> None:
    """Add the filter to asyncio's logger once, on the first transfer (not at import)."""
    logging.getLogger("asyncio").addFilter(_NOISE)


Kind = Literal["file", "dir", "link", "other"]
Progress = Callable[[int], None]


class RemotePathError(Exception):
    """An SFTP request on `path` failed; `errno` classifies it, `reason` says it in words."""

    def __init__(self, path: str, code: int, reason: str) -> None:
        super().__init__(f"{reason}: {path}" if path else reason)
        self.path = path
        self.errno = code
        self.reason = reason


@dataclass(frozen=True)
class RemoteStat:
    """What a transfer needs to know about a remote path (symlinks not followed by lstat)."""

    kind: Kind
    size: int
    mode: int  # permission bits only
    #: The rest of what the server said (None where it did not), for `Connection.sftp()`.
    st_mode: int | None = None  # type and permission bits
    uid: int | None = None
    gid: int | None = None
    atime: int | None = None
    mtime: int | None = None


@dataclass(frozen=True)
class RemoteEntry:
    """One name of a directory listing, as the server sent it, with its lstat attributes."""

    name: str
    stat: RemoteStat


def _kind(mode: int) -> Kind:
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "dir"
    if stat.S_ISLNK(mode):
        return "link"
    return "other"


def _remote_stat(attrs: asyncssh.SFTPAttrs) -> RemoteStat:
    mode = attrs.permissions or 0
    return RemoteStat(
        _kind(mode),
        attrs.size or 0,
        stat.S_IMODE(mode),
        st_mode=attrs.permissions,
        uid=attrs.uid,
        gid=attrs.gid,
        atime=_seconds(attrs.atime),
        mtime=_seconds(attrs.mtime),
    )


def _seconds(value: object) -> int | None:
    return int(value) if isinstance(value, int | float) else None


#: SFTP status codes with one meaning whatever the request (SFTP v3 reports many as FAILURE).
_CODES: dict[type[asyncssh.SFTPError], tuple[int, str]] = {
    asyncssh.SFTPNoSuchFile: (errno.ENOENT, "no such file or directory"),
    asyncssh.SFTPNoSuchPath: (errno.ENOENT, "no such file or directory"),
    asyncssh.SFTPPermissionDenied: (errno.EACCES, "permission denied"),
    asyncssh.SFTPWriteProtect: (errno.EROFS, "read-only file system"),
    asyncssh.SFTPFileAlreadyExists: (errno.EEXIST, "already exists"),
    asyncssh.SFTPNoSpaceOnFilesystem: (errno.ENOSPC, "no space left on device"),
    asyncssh.SFTPQuotaExceeded: (errno.EDQUOT, "disk quota exceeded"),
    asyncssh.SFTPNotADirectory: (errno.ENOTDIR, "not a directory"),
    asyncssh.SFTPFileIsADirectory: (errno.EISDIR, "is a directory"),
    asyncssh.SFTPDirNotEmpty: (errno.ENOTEMPTY, "directory not empty"),
    asyncssh.SFTPOpUnsupported: (errno.EOPNOTSUPP, "not supported by the server"),
    asyncssh.SFTPLinkLoop: (errno.ELOOP, "too many levels of symbolic links"),
}

#: What a bare FAILURE most likely means, by request (OpenSSH maps ENOSPC and EEXIST to it).
_FAILURE: dict[str, tuple[int, str]] = {
    "write": (errno.EIO, "write failed (disk full?)"),
    "create": (errno.EEXIST, "cannot create (exists already, or disk full?)"),
    "mkdir": (errno.EEXIST, "cannot create directory (exists already?)"),
}


@contextlib.contextmanager
def _errors(label: str, path: str, request: str) -> Iterator[None]:
    """Translate asyncssh's errors for one request on `path`."""
    try:
        yield
    except (asyncssh.SFTPConnectionLost, asyncssh.SFTPNoConnection) as exc:
        raise ConnectionLost(label, _lost(request, exc.reason)) from exc
    except asyncssh.SFTPFailure as exc:
        code, reason = _FAILURE.get(request, (errno.EIO, f"{request} failed"))
        detail = f" (server: {exc.reason})" if exc.reason and exc.reason != "Failure" else ""
        raise RemotePathError(path, code, reason + detail) from exc
    except asyncssh.SFTPError as exc:
        code, reason = _CODES.get(type(exc), (errno.EIO, f"{request} failed: {exc.reason}"))
        raise RemotePathError(path, code, reason) from exc
    except (asyncssh.Error, ConnectionError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or str(exc)
        raise ConnectionLost(label, _lost(request, reason)) from exc


def _lost(request: str, reason: str) -> str:
    reason = re.sub(r"^\[Errno \d+\] ", "", reason or "connection closed")
    return f"connection lost during SFTP {request} ({reason})"


class SFTPSession:
    """An SFTP channel on an open connection; holds one of its channel slots until closed.

    With a `budget`, every read and write request reserves its bytes there first (a group's
    transfers share one), and requests are `block_size` bytes at most.
    """

    def __init__(
        self,
        client: asyncssh.SFTPClient,
        transport: SSHTransport,
        budget: TransferBudget | None = None,
        block_size: int = BLOCK_SIZE,
    ) -> None:
        self._client = client
        self._transport = transport
        self.label = transport.target.label
        self.budget = budget
        limits = client.limits
        block = min(BLOCK_SIZE, block_size)
        self.read_size = min(block, limits.max_read_len or block)
        self.write_size = min(block, limits.max_write_len or block)
        self._closed = False

    @classmethod
    async def start(
        cls,
        transport: SSHTransport,
        budget: TransferBudget | None = None,
        block_size: int = BLOCK_SIZE,
    ) -> SFTPSession:
        """Open an SFTP channel; TransportClosed when the connection is gone (safe to retry)."""
        await transport._acquire()
        try:
            client = await transport.tunnel_connection().start_sftp_client(
                path_encoding="utf-8", path_errors="surrogateescape"
            )
        except asyncssh.ChannelOpenError as exc:
            transport._release()
            if transport.is_closed:
                raise TransportClosed(exc.reason) from exc
            raise RemotePathError(
                "", errno.EPROTONOSUPPORT, f"the server refused an SFTP session: {exc.reason}"
            ) from exc
        except (asyncssh.Error, OSError) as exc:
            transport._release()
            if transport.is_closed:
                raise TransportClosed(str(exc)) from exc
            reason = getattr(exc, "reason", None) or str(exc)
            raise RemotePathError(
                "", errno.EPROTONOSUPPORT, f"the server's SFTP subsystem did not start ({reason})"
            ) from exc
        except BaseException:
            transport._release()
            raise
        return cls(client, transport, budget, block_size)

    @property
    def is_closed(self) -> bool:
        """True once the connection under this channel has closed or died."""
        return self._transport.is_closed

    async def close(self) -> None:
        """Close the channel (waiting at most CLEANUP_TIMEOUT) and give its slot back."""
        if self._closed:
            return
        self._closed = True
        try:
            with contextlib.suppress(Exception):
                self._client.exit()
                await asyncio.wait_for(self._client.wait_closed(), CLEANUP_TIMEOUT)
        finally:
            self._transport._release()

    # ------------------------------------------------------------------ paths

    async def realpath(self, path: str) -> str:
        """Return the server's absolute, canonical form of `path` ("." is the home directory)."""
        with _errors(self.label, path, "realpath"):
            return str(await self._client.realpath(path))

    async def stat(self, path: str) -> RemoteStat | None:
        """Return what `path` is (symlinks followed), or None when it does not exist."""
        return await self._stat(path, follow=True)

    async def lstat(self, path: str) -> RemoteStat | None:
        """Return what `path` is (a symlink as itself), or None when it does not exist."""
        return await self._stat(path, follow=False)

    async def _stat(self, path: str, *, follow: bool) -> RemoteStat | None:
        try:
            with _errors(self.label, path, "stat"):
                if follow:
                    attrs = await self._client.stat(path)
                else:
                    attrs = await self._client.lstat(path)
        except RemotePathError as exc:
            if exc.errno == errno.ENOENT:
                return None
            raise
        return _remote_stat(attrs)

    async def listdir(self, path: str) -> list[RemoteEntry]:
        """Return every name the server lists in `path`, unchecked ("." and ".." included)."""
        with _errors(self.label, path, "listdir"):
            return [
                RemoteEntry(str(entry.filename), _remote_stat(entry.attrs))
                async for entry in self._client.scandir(path)
            ]

    async def readlink(self, path: str) -> str:
        """Return the target of the symlink `path`."""
        with _errors(self.label, path, "readlink"):
            return str(await self._client.readlink(path))

    async def mkdir(self, path: str, mode: int | None = None) -> None:
        """Create directory `path` (with `mode`, else the server's default)."""
        attrs = asyncssh.SFTPAttrs(permissions=mode) if mode is not None else asyncssh.SFTPAttrs()
        with _errors(self.label, path, "mkdir"):
            await self._client.mkdir(path, attrs)

    async def chmod(self, path: str, mode: int) -> None:
        """Set the permission bits of `path`."""
        with _errors(self.label, path, "chmod"):
            await self._client.chmod(path, mode)

    async def symlink(self, target: str, path: str) -> None:
        """Create a symlink at `path` pointing to `target`."""
        with _errors(self.label, path, "symlink"):
            await self._client.symlink(target, path)

    async def rmdir(self, path: str) -> None:
        """Remove the empty directory `path`."""
        with _errors(self.label, path, "rmdir"):
            await self._client.rmdir(path)

    async def chown(self, path: str, uid: int, gid: int) -> None:
        """Set the owner and group of `path` (numeric ids)."""
        with _errors(self.label, path, "chown"):
            await self._client.chown(path, uid=uid, gid=gid)

    async def utime(self, path: str, times: tuple[float, float] | None) -> None:
        """Set the access and modification times of `path` (None: now)."""
        with _errors(self.label, path, "utime"):
            await self._client.utime(path, times)

    async def remove(self, path: str) -> None:
        """Remove the file or symlink `path`."""
        with _errors(self.label, path, "remove"):
            await self._client.remove(path)

    async def rename(self, source: str, target: str, *, overwrite: bool = True) -> None:
        """Rename `source` over `target` atomically (posix-rename@openssh.com); without
        `overwrite`, SFTP's plain rename, which fails where `target` exists."""
        with _errors(self.label, target, "rename"):
            if overwrite:
                await self._client.posix_rename(source, target)
            else:
                await self._client.rename(source, target)

    # ------------------------------------------------------------------ files

    async def create(self, path: str, mode: int) -> RemoteFile:
        """Create `path` for writing, failing if anything (even a symlink) is there already."""
        attrs = asyncssh.SFTPAttrs(permissions=mode)
        with _errors(self.label, path, "create"):
            handle = await self._client.open(path, "xb", attrs, block_size=0)
        return RemoteFile(self, handle, path)

    async def open_write(self, path: str) -> RemoteFile:
        """Open `path` for writing in place, truncating it (the non-atomic way)."""
        with _errors(self.label, path, "open"):
            handle = await self._client.open(path, "wb", block_size=0)
        return RemoteFile(self, handle, path)

    async def open(self, path: str, mode: str) -> RemoteFile:
        """Open `path` with a Python file mode ("rb", "wb", "ab", "r+b", "xb", ...)."""
        with _errors(self.label, path, "open"):
            handle = await self._client.open(path, mode, block_size=0)
        return RemoteFile(self, handle, path)

    async def open_read(self, path: str) -> RemoteFile:
        """Open `path` for reading."""
        with _errors(self.label, path, "open"):
            handle = await self._client.open(path, "rb", block_size=0)
        return RemoteFile(self, handle, path)


class RemoteFile:
    """An open remote file; reads and writes keep at most MAX_REQUESTS blocks in flight."""

    def __init__(self, session: SFTPSession, handle: asyncssh.SFTPClientFile, path: str) -> None:
        self._session = session
        self._handle = handle
        self.path = path
        self._label = session.label

    @property
    def is_budgeted(self) -> bool:
        """True when its requests reserve bytes in a shared budget (see `read_into`)."""
        return self._session.budget is not None

    async def stat(self) -> RemoteStat:
        """Return the open file's attributes."""
        with _errors(self._label, self.path, "stat"):
            return _remote_stat(await self._handle.stat())

    async def chmod(self, mode: int) -> None:
        """Set the permission bits of the open file."""
        with _errors(self._label, self.path, "chmod"):
            await self._handle.chmod(mode)

    async def fsync(self) -> None:
        """Ask the server to flush the file to disk (skipped where fsync@openssh.com is absent)."""
        try:
            with _errors(self._label, self.path, "write"):
                await self._handle.fsync()
        except RemotePathError as exc:
            if exc.errno != errno.EOPNOTSUPP:
                raise

    async def close(self) -> None:
        """Close the handle (a failed close of a written file means the data may be lost)."""
        with _errors(self._label, self.path, "write"):
            await self._handle.close()

    async def abort(self) -> None:
        """Close the handle after a failure, ignoring further errors."""
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._handle.close(), CLEANUP_TIMEOUT)

    async def read(self, size: int, offset: int) -> bytes:
        """Read up to `size` bytes at `offset` (b"" at the end), in blocks of the server's size."""
        chunks: list[bytes] = []
        while size > 0:
            data = await self._read_block(offset, min(size, self._session.read_size))
            if not data:
                break
            chunks.append(data)
            offset += len(data)
            size -= len(data)
        return b"".join(chunks)

    async def write(self, data: bytes, offset: int) -> int:
        """Write `data` at `offset`, in blocks of the server's size; return the byte count."""
        step = self._session.write_size
        for start in range(0, len(data), step):
            await self._write_block(data[start : start + step], offset + start)
        return len(data)

    async def _write_block(self, data: bytes | memoryview, offset: int) -> int:
        if self._session.is_closed:
            raise ConnectionLost(self._label, "connection lost during SFTP write")
        with _errors(self._label, self.path, "write"):
            # a memoryview (a shared block) is sent as it is: asyncssh only measures and
            # concatenates it, which a buffer allows
            await self._handle.write(cast(bytes, data), offset)
        return len(data)

    async def _read_block(self, offset: int, size: int) -> bytes:
        with _errors(self._label, self.path, "read"):
            data: bytes = await self._handle.read(size, offset)
        return data

    async def write_from(
        self, read: Callable[[int], Awaitable[bytes | memoryview]], progress: Progress | None = None
    ) -> int:
        """Write what `read(n)` returns until it returns b""; return the byte count.

        At most MAX_REQUESTS writes are in flight; with a budget, each one reserves its block
        before the block is read, and gives it back once the server acknowledged it.
        """
        budget = self._session.budget
        size = self._session.write_size
        pending: collections.deque[asyncio.Task[int]] = collections.deque()
        offset = 0
        try:
            while True:
                held = await budget.acquire(size) if budget is not None else 0
                try:
                    data = await read(size)
                except BaseException:
                    if budget is not None:
                        budget.release(held)
                    raise
                if not data:
                    if budget is not None:
                        budget.release(held)
                    break
                task = asyncio.ensure_future(self._write_block(data, offset))
                if budget is not None:
                    task.add_done_callback(functools.partial(_give_back, budget, held))
                pending.append(task)
                offset += len(data)
                del data  # the request holds the block now: it is freed with the request
                if len(pending) >= MAX_REQUESTS:
                    _report(progress, await pending.popleft())
            while pending:
                _report(progress, await pending.popleft())
        finally:
            await _cancel_all(pending)
        return offset

    async def read_into(
        self,
        write: Callable[[bytes], Awaitable[None]],
        size: int,
        progress: Progress | None = None,
    ) -> int:
        """Read `size` bytes (fewer if the file shrank) into `write`, in order; return the count.

        With a budget, each request reserves its length before it is sent, and gives it back
        once `write` has taken the data (so `write` must not keep it).
        """
        budget = self._session.budget
        block = self._session.read_size
        pending: collections.deque[tuple[int, int, asyncio.Task[bytes]]] = collections.deque()
        held: collections.deque[int] = collections.deque()  # reserved bytes, one per request
        next_offset = done = 0
        try:
            while next_offset < size or pending:
                while next_offset < size and len(pending) < MAX_REQUESTS:
                    length = min(block, size - next_offset)
                    if budget is not None:
                        # Never wait for room while holding blocks only this loop frees.
                        got = budget.try_acquire(length) if pending else None
                        if pending and got is None:
                            break  # no room now: take in what is in flight first
                        held.append(got if got is not None else await budget.acquire(length))
                    task = asyncio.ensure_future(self._read_block(next_offset, length))
                    pending.append((next_offset, length, task))
                    next_offset += length
                offset, length, task = pending.popleft()
                try:
                    data = await task
                    while data and len(data) < length:  # a short read: the rest, in order
                        more = await self._read_block(offset + len(data), length - len(data))
                        if not more:
                            break
                        data += more
                    if data:
                        await write(data)
                finally:
                    if budget is not None:
                        budget.release(held.popleft())
                if not data:  # the file shrank: nothing more to read
                    break
                done += len(data)
                _report(progress, len(data))
                if len(data) < length:
                    break
        finally:
            await _cancel_all(task for _, _, task in pending)
            if budget is not None:
                for amount in held:
                    budget.release(amount)
        return done


def _give_back(budget: TransferBudget, amount: int, _task: asyncio.Future[Any]) -> None:
    budget.release(amount)


def _report(progress: Progress | None, count: int) -> None:
    if progress is not None:
        progress(count)


async def _cancel_all(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel requests still in flight and collect their outcome (no "never retrieved" noise)."""
    left = list(tasks)
    for task in left:
        task.cancel()
    if left:
        await asyncio.gather(*left, return_exceptions=True)
