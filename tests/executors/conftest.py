"""Fixtures of the executor tests: a real local Ray cluster (head plus nodes offering region_eu
and region_us, each leaving from its own loopback address), the executors under test, and a
Config for a fleet.

Ray is imported here at once: where it is missing these tests fail (scripts/install installs
it with the test extras), they are never skipped.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import ray

from corral import Config
from corral.executors import PoolExecutor
from corral.executors.ray import RayExecutor
from corral.remote.executors import GroupExecutor
from corral.testing.fleet import Fleet, SSHDFleet

from .cluster import RayCluster


def fleet_config(fleet: Fleet, **overrides: object) -> Config:
    """Return a Config that reads the fleet's ssh_config (and only it)."""
    return Config(overrides={"ssh_config_path": str(fleet.ssh_config_path), **overrides})


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    """A Ray cluster of three nodes on this machine, stopped (every process) at the end."""
    cluster = RayCluster()
    try:
        cluster.start_head()
        cluster.add_node("eu", 1)
        cluster.add_node("us", 2)
        cluster.wait_for(3, ("region_eu", "region_us"))
        yield cluster
    finally:
        try:
            if ray.is_initialized():
                ray.shutdown()
        finally:
            cluster.stop()


@pytest.fixture
def ray_executor(ray_cluster: RayCluster) -> Iterator[RayExecutor]:
    """A RayExecutor on the test cluster; its actors are stopped after the test."""
    executor = RayExecutor(ray_cluster.address)
    yield executor
    from corral.sync.portal import portal

    portal.call(executor.close)


@pytest.fixture
def pool_executor() -> Iterator[PoolExecutor]:
    """A two-process PoolExecutor; its workers are stopped after the test."""
    executor = PoolExecutor(2)
    yield executor
    from corral.sync.portal import portal

    portal.call(executor.close)


@pytest.fixture(params=["pool", "ray"])
def executor(request: pytest.FixtureRequest) -> GroupExecutor:
    """Each executor other than the in-process one."""
    if request.param == "pool":
        made: GroupExecutor = request.getfixturevalue("pool_executor")
    else:
        made = request.getfixturevalue("ray_executor")
    return made


@pytest.fixture
def shared(tmp_path: Path) -> Iterator[Path]:
    """A directory the fleet's login user can write to and read (hosts share this machine's
    files): where hosts leave marks and find the caller's flags."""
    path = Path(tempfile.mkdtemp(prefix="corral-exec-", dir="/tmp"))
    path.chmod(0o777)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def config(fleet: SSHDFleet) -> Config:
    return fleet_config(fleet)
