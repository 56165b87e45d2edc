"""`SFTPClient`: what `Connection.sftp()` returns, with paramiko's method names for file work.

Fabric hands out paramiko's SFTPClient; corral is not paramiko, but the calls fabfiles make
on it are here, with paramiko's meanings: `listdir` (no "." or ".."), `listdir_attr`,
`stat`/`lstat` (`st_size`, `st_mode`, `st_uid`, `st_gid`, `st_atime`, `st_mtime`), `mkdir`,
`rmdir`, `remove`/`unlink`, `rename` (fails where the target exists) and `posix_rename`,
`chmod`, `chown`, `utime`, `readlink`, `symlink`, `normalize`, `chdir`/`getcwd`, `open`/`file`,
`put`/`get`, `putfo`/`getfo`. Failures raise `SFTPError` (an OSError with `errno` and
`filename`; `SFTPFileNotFoundError` for a missing path), as paramiko raises IOError.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import posixpath
import stat
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from ..errors import SFTPError, SFTPFileNotFoundError
from ..transport.sftp import RemoteFile, RemotePathError, RemoteStat, SFTPSession

#: put/get/putfo/getfo report progress as paramiko does: callback(bytes so far, total).
Callback = Callable[[int, int], object]

CHUNK = 256 * 1024


@dataclass(frozen=True)
class SFTPAttributes:
    """A remote path's attributes, named as os.stat's and paramiko's are."""

    filename: str
    st_size: int | None
    st_mode: int | None
    st_uid: int | None
    st_gid: int | None
    st_atime: int | None
    st_mtime: int | None

    @classmethod
    def of(cls, name: str, found: RemoteStat) -> SFTPAttributes:
        """Make the attributes of `name` from what the server said about it."""
        return cls(name, found.size, found.st_mode, found.uid, found.gid, found.atime, found.mtime)

    def __repr__(self) -> str:
        mode = stat.filemode(self.st_mode) if self.st_mode is not None else "?"
        return f"<SFTPAttributes {mode} {self.st_size} {self.filename!r}>"


@contextlib.contextmanager
def _translated(host: str) -> Iterator[None]:
    """Turn a failed SFTP request into SFTPError naming the host, the path and the errno."""
    try:
        yield
    except RemotePathError as exc:
        kind = SFTPFileNotFoundError if exc.errno == errno.ENOENT else SFTPError
        raise kind(host, f"sftp: {exc}", path=exc.path, code=exc.errno) from exc


def _missing(host: str, path: str) -> SFTPFileNotFoundError:
    return SFTPFileNotFoundError(
        host, f"sftp: no such file or directory: {path}", path=path, code=errno.ENOENT
    )


class SFTPClient:
    """An SFTP channel on a Connection, with paramiko's method names (async twin)."""

    def __init__(self, session: SFTPSession, host: str) -> None:
        self._session = session
        self.host = host
        self._cwd: str | None = None

    def _path(self, path: str | os.PathLike[str]) -> str:
        path = os.fspath(path)
        if self._cwd is not None and not path.startswith("/"):
            return posixpath.join(self._cwd, path)
        return path

    @property
    def is_closed(self) -> bool:
        """True once the channel (or its connection) has closed."""
        return self._session.is_closed

    async def close(self) -> None:
        """Close the SFTP channel."""
        await self._session.close()

    async def __aenter__(self) -> SFTPClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ paths

    async def chdir(self, path: str | None = None) -> None:
        """Make relative paths start at `path` (None: the server's starting directory)."""
        if path is None:
            self._cwd = None
            return
        found = await self._stat(self._path(path), follow=True)
        if found.kind != "dir":
            raise SFTPError(
                self.host, f"sftp: not a directory: {path}", path=path, code=errno.ENOTDIR
            )
        self._cwd = await self.normalize(path)

    def getcwd(self) -> str | None:
        """Return the directory set by `chdir`, or None."""
        return self._cwd

    async def normalize(self, path: str | os.PathLike[str]) -> str:
        """Return the server's absolute, canonical form of `path`."""
        with _translated(self.host):
            return await self._session.realpath(self._path(path))

    async def _stat(self, path: str, *, follow: bool) -> RemoteStat:
        with _translated(self.host):
            found = await (self._session.stat(path) if follow else self._session.lstat(path))
        if found is None:
            raise _missing(self.host, path)
        return found

    async def stat(self, path: str | os.PathLike[str]) -> SFTPAttributes:
        """Return the attributes of `path` (a symlink followed)."""
        full = self._path(path)
        return SFTPAttributes.of(posixpath.basename(full), await self._stat(full, follow=True))

    async def lstat(self, path: str | os.PathLike[str]) -> SFTPAttributes:
        """Return the attributes of `path` (a symlink as itself)."""
        full = self._path(path)
        return SFTPAttributes.of(posixpath.basename(full), await self._stat(full, follow=False))

    async def listdir_attr(self, path: str | os.PathLike[str] = ".") -> list[SFTPAttributes]:
        """Return the attributes of each entry of a directory (without "." and "..")."""
        with _translated(self.host):
            entries = await self._session.listdir(self._path(path))
        return [
            SFTPAttributes.of(entry.name, entry.stat)
            for entry in entries
            if entry.name not in (".", "..")
        ]

    async def listdir(self, path: str | os.PathLike[str] = ".") -> list[str]:
        """Return the names in a directory (without "." and ".."), in the server's order."""
        return [entry.filename for entry in await self.listdir_attr(path)]

    async def mkdir(self, path: str | os.PathLike[str], mode: int = 0o777) -> None:
        """Create a directory (its mode as the server's umask allows)."""
        with _translated(self.host):
            await self._session.mkdir(self._path(path), mode)

    async def rmdir(self, path: str | os.PathLike[str]) -> None:
        """Remove an empty directory."""
        with _translated(self.host):
            await self._session.rmdir(self._path(path))

    async def remove(self, path: str | os.PathLike[str]) -> None:
        """Remove a file (or symlink)."""
        with _translated(self.host):
            await self._session.remove(self._path(path))

    unlink = remove

    async def rename(
        self, oldpath: str | os.PathLike[str], newpath: str | os.PathLike[str]
    ) -> None:
        """Rename a path; fails where `newpath` exists (SFTP's rename, as paramiko's)."""
        with _translated(self.host):
            await self._session.rename(self._path(oldpath), self._path(newpath), overwrite=False)

    async def posix_rename(
        self, oldpath: str | os.PathLike[str], newpath: str | os.PathLike[str]
    ) -> None:
        """Rename a path over `newpath` atomically (posix-rename@openssh.com)."""
        with _translated(self.host):
            await self._session.rename(self._path(oldpath), self._path(newpath))

    async def chmod(self, path: str | os.PathLike[str], mode: int) -> None:
        """Set a path's permission bits."""
        with _translated(self.host):
            await self._session.chmod(self._path(path), mode)

    async def chown(self, path: str | os.PathLike[str], uid: int, gid: int) -> None:
        """Set a path's owner and group (numeric ids)."""
        with _translated(self.host):
            await self._session.chown(self._path(path), uid, gid)

    async def utime(self, path: str | os.PathLike[str], times: tuple[float, float] | None) -> None:
        """Set a path's (access, modification) times; None means now."""
        with _translated(self.host):
            await self._session.utime(self._path(path), times)

    async def readlink(self, path: str | os.PathLike[str]) -> str:
        """Return the target of a symlink."""
        with _translated(self.host):
            return await self._session.readlink(self._path(path))

    async def symlink(self, source: str, dest: str | os.PathLike[str]) -> None:
        """Create a symlink `dest` pointing at `source` (paramiko's argument order)."""
        with _translated(self.host):
            await self._session.symlink(source, self._path(dest))

    # ------------------------------------------------------------------ files

    async def open(
        self, filename: str | os.PathLike[str], mode: str = "r", bufsize: int = -1
    ) -> SFTPFile:
        """Open a remote file: modes r, w, a, x, with + and b as in Python; reads give bytes,
        lines are text unless "b" is in the mode."""
        flags = "".join(ch for ch in mode if ch in "rwax+")
        if not flags or len(set(flags) & set("rwax")) != 1:
            raise ValueError(f"sftp open: bad mode {mode!r}")
        path = self._path(filename)
        with _translated(self.host):
            handle = await self._session.open(path, flags + "b")
        offset = 0
        if "a" in flags:
            offset = (await self._stat(path, follow=True)).size
        return SFTPFile(handle, self.host, binary="b" in mode, offset=offset)

    file = open

    async def putfo(
        self,
        fl: IO[bytes],
        remotepath: str | os.PathLike[str],
        file_size: int = 0,
        callback: Callback | None = None,
        confirm: bool = True,
    ) -> SFTPAttributes:
        """Write what a file object holds to `remotepath` (in place); return its attributes."""
        remote = await self.open(remotepath, "wb")
        done = 0
        try:
            while chunk := await asyncio.to_thread(fl.read, CHUNK):
                await remote.write(chunk)
                done += len(chunk)
                if callback is not None:
                    callback(done, file_size)
        finally:
            await remote.close()
        if not confirm:
            return SFTPAttributes(posixpath.basename(self._path(remotepath)), done, *[None] * 5)
        found = await self.stat(remotepath)
        if found.st_size != done:
            raise SFTPError(
                self.host,
                f"sftp put: size mismatch for {remotepath}: {found.st_size} != {done}",
                path=str(remotepath),
                code=errno.EIO,
            )
        return found

    async def put(
        self,
        localpath: str | os.PathLike[str],
        remotepath: str | os.PathLike[str],
        callback: Callback | None = None,
        confirm: bool = True,
    ) -> SFTPAttributes:
        """Upload a local file to `remotepath` (in place, not atomically: see Connection.put)."""
        local = await asyncio.to_thread(open, localpath, "rb")
        try:
            size = os.fstat(local.fileno()).st_size
            return await self.putfo(local, remotepath, size, callback, confirm)
        finally:
            local.close()

    async def getfo(
        self,
        remotepath: str | os.PathLike[str],
        fl: IO[bytes],
        callback: Callback | None = None,
    ) -> int:
        """Write a remote file into a file object; return the byte count."""
        size = (await self.stat(remotepath)).st_size or 0
        remote = await self.open(remotepath, "rb")
        done = 0
        try:
            while chunk := await remote.read(CHUNK):
                await asyncio.to_thread(fl.write, chunk)
                done += len(chunk)
                if callback is not None:
                    callback(done, size)
        finally:
            await remote.close()
        return done

    async def get(
        self,
        remotepath: str | os.PathLike[str],
        localpath: str | os.PathLike[str],
        callback: Callback | None = None,
    ) -> None:
        """Download a remote file to `localpath`."""
        local = await asyncio.to_thread(open, localpath, "wb")
        try:
            await self.getfo(remotepath, local, callback)
        finally:
            local.close()

    def __repr__(self) -> str:
        return f"<SFTPClient {self.host}>"


class SFTPFile:
    """An open remote file of `SFTPClient.open` (async twin): read, write, seek, lines."""

    def __init__(self, handle: RemoteFile, host: str, *, binary: bool, offset: int = 0) -> None:
        self._handle = handle
        self.host = host
        self.binary = binary
        self._offset = offset
        self.closed = False

    def _text(self, data: bytes) -> Any:
        return data if self.binary else data.decode("utf-8", "replace")

    async def read(self, size: int | None = None) -> bytes:
        """Read `size` bytes (all that is left when None) from the current position."""
        with _translated(self.host):
            if size is None or size < 0:
                chunks = []
                while chunk := await self._handle.read(CHUNK, self._offset):
                    chunks.append(chunk)
                    self._offset += len(chunk)
                return b"".join(chunks)
            data = await self._handle.read(size, self._offset)
        self._offset += len(data)
        return data

    async def readline(self) -> Any:
        """Read one line (text, or bytes in "b" mode); "" at the end."""
        line = bytearray()
        with _translated(self.host):
            while True:
                chunk = await self._handle.read(4096, self._offset)
                if not chunk:
                    break
                end = chunk.find(b"\n")
                if end >= 0:
                    line += chunk[: end + 1]
                    self._offset += end + 1
                    break
                line += chunk
                self._offset += len(chunk)
        return self._text(bytes(line))

    async def readlines(self) -> list[Any]:
        """Read every line that is left."""
        data = await self.read()
        return [self._text(line) for line in data.splitlines(keepends=True)]

    async def __aiter__(self) -> AsyncIterator[Any]:
        while line := await self.readline():
            yield line

    async def write(self, data: str | bytes) -> int:
        """Write text (as UTF-8) or bytes at the current position; return the byte count."""
        raw = data.encode("utf-8") if isinstance(data, str) else bytes(data)
        with _translated(self.host):
            await self._handle.write(raw, self._offset)
        self._offset += len(raw)
        return len(raw)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move the position (SEEK_SET or SEEK_CUR; SEEK_END needs `stat`, so it is refused)."""
        if whence == os.SEEK_SET:
            self._offset = offset
        elif whence == os.SEEK_CUR:
            self._offset += offset
        else:
            raise ValueError("sftp file: seek from the end is not supported; stat() for the size")
        return self._offset

    def tell(self) -> int:
        """Return the position."""
        return self._offset

    async def flush(self) -> None:
        """Do nothing: every write reaches the server before it returns."""

    async def stat(self) -> SFTPAttributes:
        """Return the open file's attributes."""
        with _translated(self.host):
            found = await self._handle.stat()
        return SFTPAttributes.of(posixpath.basename(self._handle.path), found)

    async def chmod(self, mode: int) -> None:
        """Set the open file's permission bits."""
        with _translated(self.host):
            await self._handle.chmod(mode)

    async def close(self) -> None:
        """Close the file."""
        if not self.closed:
            self.closed = True
            with _translated(self.host):
                await self._handle.close()

    async def __aenter__(self) -> SFTPFile:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<SFTPFile {self.host}:{self._handle.path}>"
