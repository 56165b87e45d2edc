"""What an upload reads (a local file, a caller's file object or bytes; through a group's
shared file when there is one) and the meter that reports progress."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from ...errors import ConfigError
from .paths import LocalPath
from .pool import SharedFile, SharedFiles
from .session import _Refused

ProgressCallback = Callable[[int, int], None]

#: Local reads and writes run in a worker thread this much at a time: one thread hop per
#: 256 KiB block cost more client CPU than the copying.
LOCAL_BATCH = 1024 * 1024


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
    shared: SharedFile | None = None  # read through, block by block, when a group shares it
    _offset: int = 0

    @classmethod
    def open(cls, local: LocalPath | IO[bytes], files: SharedFiles | None = None) -> _Source:
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
            file,
            path,
            os.path.basename(path),
            stat.S_IMODE(info.st_mode),
            info.st_size,
            True,
            shared=files.share(file) if files is not None else None,
        )

    @classmethod
    def from_bytes(cls, data: bytes, display: str, name: str) -> _Source:
        return cls(io.BytesIO(data), display, name, None, len(data), owned=True, start=0)

    async def read(self, size: int) -> bytes | memoryview:
        """Return the next `size` bytes (fewer at the end), read LOCAL_BATCH at a time (or,
        shared, the block every upload of the file gets)."""
        if self.shared is not None:
            block = await self.shared.block(self._offset, size)
            self._offset += len(block)
            return block
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
        self._offset = 0

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
