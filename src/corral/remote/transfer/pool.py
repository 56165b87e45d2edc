"""`TransferPool`: what the transfers of one group call share: a memory budget for the bytes
they hold in flight, the block size that budget affords each of them, and the local files
they upload (each block read once for every host).

Measured before it existed (10 MiB to 200 hosts, 100 at a time): 759 MB peak client memory,
16 requests of 256 KiB in flight per host plus a 1 MiB read-ahead each.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import io
import os
import stat
import weakref
from typing import IO

from ...transport.budget import MIN_BLOCK, TransferBudget
from ...transport.sftp import BLOCK_SIZE

#: The default memory budget of a group's transfers, all hosts together.
DEFAULT_BUDGET = 64 * 1024 * 1024
#: The share of the budget kept for recently read blocks of shared files ...
CACHE_SHARE = 8
#: ... and the fewest blocks kept, however small the budget: hosts a little apart share.
CACHE_BLOCKS = 4


FileKey = tuple[int, int, int, int]  # st_dev, st_ino, st_size, st_mtime_ns


class SharedFile:
    """One local file that several uploads read at once: a block is read once for all.

    A block stays found while any upload still has it in flight (weakly held), and the most
    recent ones up to `cache_bytes` are kept for uploads a little behind the others.
    """

    def __init__(self, fd: int, cache_bytes: int) -> None:
        self._fd = fd
        self._cache_bytes = cache_bytes
        self._cached: collections.OrderedDict[tuple[int, int], memoryview] = (
            collections.OrderedDict()
        )
        self._cached_size = 0
        self._flying: weakref.WeakValueDictionary[tuple[int, int], memoryview] = (
            weakref.WeakValueDictionary()
        )
        self._reading: dict[tuple[int, int], asyncio.Future[memoryview]] = {}
        #: Blocks read from the file (each pread), for tests and benchmarks.
        self.reads = 0

    async def block(self, offset: int, size: int) -> memoryview:
        """Return up to `size` bytes at `offset` (fewer at the end of the file)."""
        key = (offset, size)
        found = self._cached.get(key)
        if found is not None:
            self._cached.move_to_end(key)
            return found
        found = self._flying.get(key)
        if found is not None:
            return found
        reading = self._reading.get(key)
        if reading is None:  # its own task: a reader that is cancelled stops no other
            reading = asyncio.ensure_future(self._read(key))
            reading.add_done_callback(_retrieved)
            self._reading[key] = reading
        return await asyncio.shield(reading)

    async def _read(self, key: tuple[int, int]) -> memoryview:
        offset, size = key
        try:
            data = await asyncio.to_thread(os.pread, self._fd, size, offset)
        finally:
            del self._reading[key]
        self.reads += 1
        view = memoryview(data)
        self._flying[key] = view
        self._cached[key] = view
        self._cached_size += len(view)
        while self._cached_size > self._cache_bytes and self._cached:
            _, old = self._cached.popitem(last=False)
            self._cached_size -= len(old)
        return view

    async def aclose(self) -> None:
        """Wait for reads in progress, drop the cache and close the file."""
        if self._reading:
            await asyncio.gather(*self._reading.values(), return_exceptions=True)
        self._cached.clear()
        with contextlib.suppress(OSError):
            os.close(self._fd)


def _retrieved(future: asyncio.Future[memoryview]) -> None:
    if not future.cancelled():
        future.exception()  # each reader gets it; never "exception was never retrieved"


class SharedFiles:
    """The local files a group's uploads read, by identity (device, inode, size, mtime)."""

    def __init__(self, cache_bytes: int) -> None:
        self._cache_bytes = cache_bytes
        self._files: dict[FileKey, SharedFile] = {}

    def share(self, file: IO[bytes]) -> SharedFile | None:
        """Return the shared reader of an open regular file (the same one for the same file)."""
        try:
            info = os.fstat(file.fileno())
        except (OSError, ValueError, io.UnsupportedOperation):
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        key = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)
        shared = self._files.get(key)
        if shared is None:
            shared = self._files[key] = SharedFile(os.dup(file.fileno()), self._cache_bytes)
        return shared

    @property
    def reads(self) -> int:
        """Blocks read from every shared file so far."""
        return sum(shared.reads for shared in self._files.values())

    async def aclose(self) -> None:
        """Close every shared file (`reads` still counts what was read)."""
        for shared in self._files.values():
            await shared.aclose()


class TransferPool:
    """The budget, block size and shared local files of one group call's transfers."""

    def __init__(self, limit: int = DEFAULT_BUDGET, transfers: int = 1) -> None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 2 * MIN_BLOCK:
            raise ValueError(
                f"transfer_budget={limit!r} must be a whole number of bytes >= {2 * MIN_BLOCK}"
            )
        #: Requests in flight reserve their bytes here (the budget less the read cache).
        self.budget = TransferBudget(limit - limit // CACHE_SHARE)
        #: Every transfer's request size: one block each in flight at least, 256 KiB at most.
        self.block_size = self.budget.block_size(transfers, BLOCK_SIZE)
        #: The local files the uploads read, shared by identity; their recent blocks are kept
        #: up to the rest of the budget, or 4 blocks where that is less.
        self.files = SharedFiles(max(limit // CACHE_SHARE, CACHE_BLOCKS * self.block_size))

    async def aclose(self) -> None:
        """Close the shared local files (once the group call is over)."""
        await self.files.aclose()
