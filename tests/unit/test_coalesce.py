"""The coalescing socket transport: one loop turn's writes go out as one, in order."""

from __future__ import annotations

import asyncio
from typing import Any

from corral.transport.coalesce import FLUSH_AT, _CoalescingTransport


class _Recorder(asyncio.Transport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = self.aborted = False

    def write(self, data: Any) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def get_write_buffer_size(self) -> int:
        return 0


async def test_writes_of_one_turn_are_sent_together_in_order() -> None:
    real = _Recorder()
    transport = _CoalescingTransport(real, asyncio.get_running_loop())
    for part in (b"a", b"bc", b"", b"def"):
        transport.write(part)
    assert real.writes == []  # nothing before the end of the turn
    assert transport.get_write_buffer_size() == 6
    await asyncio.sleep(0)
    assert real.writes == [b"abcdef"]
    transport.write(b"g")
    await asyncio.sleep(0)
    assert real.writes == [b"abcdef", b"g"]


async def test_a_large_burst_is_sent_without_waiting_for_the_turn() -> None:
    real = _Recorder()
    transport = _CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"x" * FLUSH_AT)
    assert real.writes == [b"x" * FLUSH_AT]


async def test_close_sends_what_is_queued_and_abort_drops_it() -> None:
    real = _Recorder()
    transport = _CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"bye")
    transport.close()
    assert real.writes == [b"bye"] and real.closed
    other = _Recorder()
    transport = _CoalescingTransport(other, asyncio.get_running_loop())
    transport.write(b"lost")
    transport.abort()
    await asyncio.sleep(0)
    assert other.writes == [] and other.aborted
