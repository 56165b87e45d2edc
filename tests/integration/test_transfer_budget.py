"""A group's transfers under one memory budget, against real sshd: the bytes in flight stay
within it, every host gets the same bytes as without it, and one read of the local file
serves every host."""

from __future__ import annotations

import asyncio
import hashlib
import os
from pathlib import Path

import pytest

import corral.aio
from corral import Config, Group
from corral.errors import ConfigError
from corral.testing.fleet import SSHDFleet

KIB = 1024


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _put_everywhere(
    fleet: SSHDFleet, config: Config, local: Path, budget: int, tag: str
) -> corral.aio.Group:
    names = {h.alias: f"budget-{tag}-{os.getpid()}-{h.address}.bin" for h in fleet.hosts}
    group = corral.aio.Group(*names, config=config, transfer_budget=budget)

    async def main() -> None:
        async with group:
            await group.run("true", hide=True)  # connected: the uploads start together
            await group.apply(lambda c: c.put(str(local), names[c.original_host]))

    asyncio.run(main())
    for name in names.values():
        assert _sha(fleet.home / name) == _sha(local)  # the same bytes on every host
        (fleet.home / name).unlink()
    return group


def test_group_put_keeps_bytes_in_flight_within_the_budget(
    fleet: SSHDFleet, config: Config, tmp_path: Path
) -> None:
    local = tmp_path / "artifact.bin"
    local.write_bytes(os.urandom(3 * 1024 * KIB + 17))
    # requests may hold 224 KiB of it: 3 blocks of 64 KiB at most, for the 3 hosts together
    group = _put_everywhere(fleet, config, local, 256 * KIB, "small")
    pool = group.last_pool
    assert pool is not None
    assert pool.block_size == 64 * KIB  # 224 KiB for 3 hosts: 74 KiB each, in 32 KiB steps
    assert 0 < pool.budget.peak <= pool.budget.limit == 224 * KIB


def test_group_put_reads_each_block_of_the_file_once_for_every_host(
    fleet: SSHDFleet, config: Config, tmp_path: Path
) -> None:
    local = tmp_path / "artifact.bin"
    local.write_bytes(os.urandom(3 * 1024 * KIB + 17))
    group = _put_everywhere(fleet, config, local, 32 * 1024 * KIB, "shared")  # 4 MiB cache
    pool = group.last_pool
    assert pool is not None and pool.block_size == 256 * KIB
    blocks = -(-local.stat().st_size // pool.block_size)
    assert pool.files.reads == blocks + 1  # every block once (and the empty read at the end)


def test_group_get_keeps_bytes_in_flight_within_the_budget(
    fleet: SSHDFleet, config: Config, tmp_path: Path
) -> None:
    name = f"budget-get-{os.getpid()}.bin"
    source = fleet.home / name
    source.write_bytes(os.urandom(2 * 1024 * KIB + 5))
    os.chmod(source, 0o644)
    try:
        with Group(*(h.alias for h in fleet.hosts), config=config, transfer_budget=128 * KIB) as g:
            got = g.get(name, str(tmp_path / "{host}" / name))
            pool = g._last.last_pool if g._last is not None else None
        assert len(got) == len(fleet.hosts)
        assert pool is not None and 0 < pool.budget.peak <= pool.budget.limit == 112 * KIB
        for host in fleet.hosts:
            assert _sha(tmp_path / host.address / name) == _sha(source)
    finally:
        source.unlink()


def test_a_budget_too_small_for_one_request_is_refused(fleet: SSHDFleet, config: Config) -> None:
    with pytest.raises(ConfigError, match="transfer_budget"):
        Group(fleet.hosts[0].alias, config=config, transfer_budget=1000)
