"""The blocking `SFTPClient` and `SFTPFile` of `Connection.sftp()`: each method one call onto
the portal's loop (see corral.remote.sftp_client for what they do)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import IO, Any

from ..remote import sftp_client as core
from ..remote.sftp_client import Callback, SFTPAttributes
from .facade import call

__all__ = ["SFTPAttributes", "SFTPClient", "SFTPFile"]

PathLike = str | os.PathLike[str]


class SFTPClient:
    """An SFTP channel on a Connection, with paramiko's method names (blocking twin)."""

    def __init__(self, client: core.SFTPClient) -> None:
        self._async = client

    @property
    def host(self) -> str:
        """The host the channel is open to."""
        return self._async.host

    def close(self) -> None:
        """Close the SFTP channel (the Connection makes a new one on its next `sftp()`)."""
        return call(self._async.close)

    def __enter__(self) -> SFTPClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def chdir(self, path: str | None = None) -> None:
        """Make relative paths start at `path` (None: the server's starting directory)."""
        return call(self._async.chdir, path)

    def getcwd(self) -> str | None:
        """Return the directory set by `chdir`, or None."""
        return self._async.getcwd()

    def normalize(self, path: PathLike) -> str:
        """Return the server's absolute, canonical form of `path`."""
        return call(self._async.normalize, path)

    def stat(self, path: PathLike) -> SFTPAttributes:
        """Return the attributes of `path` (a symlink followed)."""
        return call(self._async.stat, path)

    def lstat(self, path: PathLike) -> SFTPAttributes:
        """Return the attributes of `path` (a symlink as itself)."""
        return call(self._async.lstat, path)

    def listdir(self, path: PathLike = ".") -> list[str]:
        """Return the names in a directory (without "." and "..")."""
        return call(self._async.listdir, path)

    def listdir_attr(self, path: PathLike = ".") -> list[SFTPAttributes]:
        """Return the attributes of each entry of a directory (without "." and "..")."""
        return call(self._async.listdir_attr, path)

    def mkdir(self, path: PathLike, mode: int = 0o777) -> None:
        """Create a directory."""
        return call(self._async.mkdir, path, mode)

    def rmdir(self, path: PathLike) -> None:
        """Remove an empty directory."""
        return call(self._async.rmdir, path)

    def remove(self, path: PathLike) -> None:
        """Remove a file (or symlink)."""
        return call(self._async.remove, path)

    unlink = remove

    def rename(self, oldpath: PathLike, newpath: PathLike) -> None:
        """Rename a path; fails where `newpath` exists (as paramiko's)."""
        return call(self._async.rename, oldpath, newpath)

    def posix_rename(self, oldpath: PathLike, newpath: PathLike) -> None:
        """Rename a path over `newpath` atomically."""
        return call(self._async.posix_rename, oldpath, newpath)

    def chmod(self, path: PathLike, mode: int) -> None:
        """Set a path's permission bits."""
        return call(self._async.chmod, path, mode)

    def chown(self, path: PathLike, uid: int, gid: int) -> None:
        """Set a path's owner and group (numeric ids)."""
        return call(self._async.chown, path, uid, gid)

    def utime(self, path: PathLike, times: tuple[float, float] | None) -> None:
        """Set a path's (access, modification) times; None means now."""
        return call(self._async.utime, path, times)

    def readlink(self, path: PathLike) -> str:
        """Return the target of a symlink."""
        return call(self._async.readlink, path)

    def symlink(self, source: str, dest: PathLike) -> None:
        """Create a symlink `dest` pointing at `source`."""
        return call(self._async.symlink, source, dest)

    def open(self, filename: PathLike, mode: str = "r", bufsize: int = -1) -> SFTPFile:
        """Open a remote file (modes r, w, a, x, with + and b)."""
        return SFTPFile(call(self._async.open, filename, mode, bufsize))

    file = open

    def put(
        self,
        localpath: PathLike,
        remotepath: PathLike,
        callback: Callback | None = None,
        confirm: bool = True,
    ) -> SFTPAttributes:
        """Upload a local file (in place, not atomically: Connection.put is atomic)."""
        return call(self._async.put, localpath, remotepath, callback, confirm)

    def putfo(
        self,
        fl: IO[bytes],
        remotepath: PathLike,
        file_size: int = 0,
        callback: Callback | None = None,
        confirm: bool = True,
    ) -> SFTPAttributes:
        """Write what a file object holds to `remotepath`."""
        return call(self._async.putfo, fl, remotepath, file_size, callback, confirm)

    def get(
        self, remotepath: PathLike, localpath: PathLike, callback: Callback | None = None
    ) -> None:
        """Download a remote file to `localpath`."""
        return call(self._async.get, remotepath, localpath, callback)

    def getfo(self, remotepath: PathLike, fl: IO[bytes], callback: Callback | None = None) -> int:
        """Write a remote file into a file object; return the byte count."""
        return call(self._async.getfo, remotepath, fl, callback)

    def __repr__(self) -> str:
        return repr(self._async)


class SFTPFile:
    """An open remote file of `SFTPClient.open` (blocking twin)."""

    def __init__(self, file: core.SFTPFile) -> None:
        self._async = file

    @property
    def closed(self) -> bool:
        """True once closed."""
        return self._async.closed

    def read(self, size: int | None = None) -> bytes:
        """Read `size` bytes (all that is left when None)."""
        return call(self._async.read, size)

    def readline(self) -> Any:
        """Read one line (text, or bytes in "b" mode)."""
        return call(self._async.readline)

    def readlines(self) -> list[Any]:
        """Read every line that is left."""
        return call(self._async.readlines)

    def __iter__(self) -> Iterator[Any]:
        while line := self.readline():
            yield line

    def write(self, data: str | bytes) -> int:
        """Write text (as UTF-8) or bytes at the current position."""
        return call(self._async.write, data)

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        """Move the position (SEEK_SET or SEEK_CUR)."""
        return self._async.seek(offset, whence)

    def tell(self) -> int:
        """Return the position."""
        return self._async.tell()

    def flush(self) -> None:
        """Do nothing: every write reaches the server before it returns."""

    def stat(self) -> SFTPAttributes:
        """Return the open file's attributes."""
        return call(self._async.stat)

    def chmod(self, mode: int) -> None:
        """Set the open file's permission bits."""
        return call(self._async.chmod, mode)

    def close(self) -> None:
        """Close the file."""
        return call(self._async.close)

    def __enter__(self) -> SFTPFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return repr(self._async)
