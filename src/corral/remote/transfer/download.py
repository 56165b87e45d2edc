"""Downloading one file: read into a `mkstemp` file beside the target, given its mode,
fsynced and renamed into place; or into a caller's file object."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import posixpath
import stat
import tempfile
from collections.abc import Callable, Mapping
from typing import IO

from ...transport.sftp import RemoteFile, SFTPSession
from .paths import default_mode, expand_local
from .session import Endpoint, _Refused
from .source import LOCAL_BATCH, _Meter


async def _receive(
    file: RemoteFile, size: int, write: Callable[[bytes], object], meter: _Meter
) -> int:
    """Read a remote file into `write`, which runs in a worker thread once per LOCAL_BATCH
    (once per block when a group's budget counts the blocks: none may be held back)."""
    chunks: list[bytes] = []
    held = 0
    batch = 1 if file.is_budgeted else LOCAL_BATCH

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
        if held >= batch:
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
        except PermissionError as exc:
            raise _Refused(f"local directory {directory} is not writable") from exc
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
        raise _Refused(str(exc)) from exc
    if target.endswith(os.sep) or os.path.isdir(target):
        target = os.path.join(target, values["basename"])
    return os.path.abspath(target)


def _placeholder_values(end: Endpoint, remote: str) -> dict[str, str]:
    return {
        "host": str(end.host),
        "user": str(end.user),
        "port": str(end.port),
        "basename": posixpath.basename(remote),
        "dirname": posixpath.dirname(remote),
    }
