"""The transfer memory budget and the shared local files of a group's uploads (pure asyncio
and a local temp file: no sockets)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from corral.remote.transfer.pool import SharedFiles, TransferPool
from corral.transport.budget import MIN_BLOCK, TransferBudget

KIB = 1024
MIB = 1024 * KIB


async def test_waiters_are_served_in_order_and_a_small_one_never_jumps_ahead() -> None:
    budget = TransferBudget(100 * KIB)
    first = await budget.acquire(80 * KIB)
    served: list[str] = []

    async def take(name: str, size: int) -> None:
        await budget.acquire(size)
        served.append(name)

    big = asyncio.ensure_future(take("big", 60 * KIB))
    await asyncio.sleep(0)
    small = asyncio.ensure_future(take("small", 10 * KIB))  # would fit, but big waits first
    await asyncio.sleep(0)
    assert served == []
    budget.release(first)
    await asyncio.gather(big, small)
    assert served == ["big", "small"]
    assert budget.in_use == 70 * KIB
    assert budget.peak == 80 * KIB


async def test_a_request_larger_than_the_budget_takes_all_of_it_and_proceeds() -> None:
    budget = TransferBudget(64 * KIB)
    assert await budget.acquire(MIB) == 64 * KIB
    assert budget.try_acquire(1) is None
    budget.release(64 * KIB)
    assert budget.in_use == 0


async def test_a_cancelled_waiter_leaves_the_queue_and_unblocks_the_next() -> None:
    budget = TransferBudget(64 * KIB)
    held = await budget.acquire(64 * KIB)
    stuck = asyncio.ensure_future(budget.acquire(64 * KIB))
    await asyncio.sleep(0)
    later = asyncio.ensure_future(budget.acquire(32 * KIB))
    await asyncio.sleep(0)
    stuck.cancel()
    with pytest.raises(asyncio.CancelledError):
        await stuck
    budget.release(held)
    assert await later == 32 * KIB
    assert budget.in_use == 32 * KIB


async def test_try_acquire_respects_the_queue() -> None:
    budget = TransferBudget(64 * KIB)
    held = await budget.acquire(48 * KIB)
    waiting = asyncio.ensure_future(budget.acquire(32 * KIB))
    await asyncio.sleep(0)
    assert budget.try_acquire(8 * KIB) is None  # it fits, but someone waits before us
    budget.release(held)
    assert await waiting == 32 * KIB
    assert budget.try_acquire(8 * KIB) == 8 * KIB


@pytest.mark.parametrize(
    ("limit", "transfers", "block"),
    [
        (64 * MIB, 1, 256 * KIB),  # alone: the largest block
        (64 * MIB, 100, 256 * KIB),  # 640 KiB each: still the largest
        (64 * MIB, 1000, 64 * KIB),  # 65.5 KiB each, in 32 KiB steps
        (1 * MIB, 1000, MIN_BLOCK),  # never below the smallest
    ],
)
def test_the_block_size_follows_the_budget_per_transfer(
    limit: int, transfers: int, block: int
) -> None:
    assert TransferBudget(limit).block_size(transfers, 256 * KIB) == block


def test_a_pool_keeps_an_eighth_of_its_budget_for_shared_reads() -> None:
    pool = TransferPool(64 * MIB, 100)
    assert pool.budget.limit == 56 * MIB
    assert pool.block_size == 256 * KIB
    with pytest.raises(ValueError, match="transfer_budget"):
        TransferPool(1024)


async def test_uploads_of_one_file_read_each_block_once(tmp_path: Path) -> None:
    path = tmp_path / "artifact.bin"
    data = os.urandom(5 * 64 * KIB + 123)
    path.write_bytes(data)
    files = SharedFiles(cache_bytes=MIB)
    readers = []
    for _ in range(20):
        with path.open("rb") as file:
            shared = files.share(file)
        assert shared is not None
        readers.append(shared)
    assert all(r is readers[0] for r in readers)  # the same file: one reader for all

    async def upload(shared_file: object) -> bytes:
        assert shared_file is readers[0]
        out, offset = bytearray(), 0
        while block := await readers[0].block(offset, 64 * KIB):
            out += block
            offset += len(block)
        return bytes(out)

    copies = await asyncio.gather(*(upload(r) for r in readers))
    assert all(copy == data for copy in copies)
    assert files.reads == 7  # 6 blocks and the empty one at the end, each read once
    await files.aclose()


async def test_a_changed_file_is_not_shared_with_its_old_self(tmp_path: Path) -> None:
    path = tmp_path / "artifact.bin"
    path.write_bytes(b"one")
    files = SharedFiles(cache_bytes=MIB)
    with path.open("rb") as file:
        before = files.share(file)
    path.write_bytes(b"two, longer")
    with path.open("rb") as file:
        after = files.share(file)
    assert before is not None and after is not None and before is not after
    assert bytes(await after.block(0, 64)) == b"two, longer"
    await files.aclose()


async def test_a_reader_far_behind_the_others_reads_again(tmp_path: Path) -> None:
    path = tmp_path / "artifact.bin"
    path.write_bytes(os.urandom(8 * 32 * KIB))
    files = SharedFiles(cache_bytes=2 * 32 * KIB)  # room for two blocks
    with path.open("rb") as file:
        shared = files.share(file)
    assert shared is not None
    for offset in range(0, 8 * 32 * KIB, 32 * KIB):
        await shared.block(offset, 32 * KIB)  # nobody holds them: only the cache keeps two
    assert files.reads == 8
    await shared.block(7 * 32 * KIB, 32 * KIB)  # recent: cached
    assert files.reads == 8
    await shared.block(0, 32 * KIB)  # evicted long ago: read again
    assert files.reads == 9
    await files.aclose()
