"""`TransferBudget`: the bytes that the transfers of a group may hold in flight, together.

Every SFTP read or write request reserves its size before its data exists (before the local
read, before the remote read is sent) and gives it back once the data is gone (the server
acknowledged the write; the downloaded block was written to the local file). Waiters are served
in order, so no transfer starves; a request never waits for more than the whole budget, so a
budget smaller than a block still makes progress.
"""

from __future__ import annotations

import asyncio
import collections

#: The smallest request a budget shrinks blocks to: below this, per-request costs dominate.
MIN_BLOCK = 32 * 1024


class TransferBudget:
    """A byte semaphore shared by the transfers of one group call (FIFO, never oversubscribed)."""

    def __init__(self, limit: int) -> None:
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < MIN_BLOCK:
            raise ValueError(f"transfer budget {limit!r} must be a whole number >= {MIN_BLOCK}")
        self.limit = limit
        self._free = limit
        self._waiters: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()
        #: The most bytes reserved at once so far (what tests and benchmarks check).
        self.peak = 0

    @property
    def in_use(self) -> int:
        """Bytes reserved now."""
        return self.limit - self._free

    def block_size(self, transfers: int, largest: int) -> int:
        """Return the request size for `transfers` transfers at once: each can keep a block
        in flight, never more than `largest`, never below MIN_BLOCK (32 KiB steps)."""
        share = self.limit // max(1, transfers)
        size = min(largest, max(MIN_BLOCK, share))
        return max(MIN_BLOCK, size - size % MIN_BLOCK)

    def clamp(self, size: int) -> int:
        """Return what a request of `size` bytes reserves (at most the whole budget)."""
        return min(size, self.limit)

    def try_acquire(self, size: int) -> int | None:
        """Reserve `size` bytes (at most the whole budget) if that needs no waiting (nobody
        waits before us); return the amount reserved, or None."""
        size = self.clamp(size)
        if self._waiters or self._free < size:
            return None
        self._take(size)
        return size

    async def acquire(self, size: int) -> int:
        """Reserve `size` bytes (at most the whole budget), waiting in turn; return the
        amount reserved, which the caller gives back with `release`."""
        size = self.clamp(size)
        if not self._waiters and self._free >= size:
            self._take(size)
            return size
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.append((size, waiter))
        try:
            await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled():
                self.release(size)  # granted as we were cancelled: give it back
            else:
                self._waiters = collections.deque(w for w in self._waiters if w[1] is not waiter)
                self._wake()
            raise
        return size

    def release(self, size: int) -> None:
        """Give back `size` reserved bytes and serve the waiters they are enough for."""
        self._free = min(self.limit, self._free + size)
        self._wake()

    def _take(self, size: int) -> None:
        self._free -= size
        self.peak = max(self.peak, self.limit - self._free)

    def _wake(self) -> None:
        while self._waiters:
            size, waiter = self._waiters[0]
            if waiter.done():
                self._waiters.popleft()
                continue
            if self._free < size:
                return
            self._waiters.popleft()
            self._take(size)
            waiter.set_result(None)
