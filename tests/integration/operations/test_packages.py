"""package against real dpkg and apt, with .deb packages built by the test in a local apt
repository (no network; the machine's own apt lists are left alone). Every test holds the
suite's dpkg lock and purges what it installed."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

import corral.aio
from corral.aio import ops
from corral.errors import OperationArgumentError, PackageManagerError
from corral.operations.packages import Apt

from .apt_repo import AptRepo, dpkg_lock, installed_version, purge
from .conftest import three_runs

pytestmark = pytest.mark.needs("root", "dpkg-deb", "dpkg-scanpackages", "apt-get")

A, B = "corral-test-pkg-a", "corral-test-pkg-b"


@pytest.fixture
def repo() -> Iterator[AptRepo]:
    with dpkg_lock():
        purge(A, B)
        made = AptRepo()
        made.add(A, "1.0")
        made.add(B, "1.0", depends=A)
        try:
            yield made
        finally:
            purge(B, A)
            made.remove()


async def test_package_three_runs_one_transaction_and_the_cache_only_when_needed(
    c: corral.aio.Connection, checking: corral.aio.Connection, repo: AptRepo
) -> None:
    async def apply(conn: corral.aio.Connection) -> ops.OpResult:
        return await ops.package(conn, [A, B], options=repo.options, sudo=True)

    def read() -> tuple[str | None, str | None]:
        return installed_version(A), installed_version(B)

    first, second, third = await three_runs(c, checking, apply, read, lambda: purge(B))
    # the cache did not know them: refreshed once, then one install of both
    assert first.message == f"update the cache, install {A} {B}"
    assert [cmd.split(" -- ")[0].split()[-1] for cmd in first.commands] == ["update", "install"]
    assert first.commands[1].endswith(f"install -- {A} {B}")
    assert len(second.probes) == 1  # everything there: one query, no cache work
    assert third.message == f"would install {B}" and len(third.commands) == 1
    assert read() == ("1.0", None)


async def test_latest_upgrades_after_refreshing_a_stale_cache(
    c: corral.aio.Connection, repo: AptRepo
) -> None:
    assert (await ops.package(c, A, options=repo.options, sudo=True)).changed
    repo.add(A, "2.0")
    kept = await ops.package(c, A, state="present", options=repo.options, sudo=True)
    assert not kept.changed and installed_version(A) == "1.0"
    latest = await ops.package(
        c, A, state="latest", cache_valid_time=0, options=repo.options, sudo=True
    )
    assert latest.message == f"update the cache, upgrade {A}"
    assert installed_version(A) == "2.0"
    again = await ops.package(c, A, state="latest", options=repo.options, sudo=True)
    assert not again.changed and again.commands == ()


async def test_absent_removes_only_what_is_installed(
    c: corral.aio.Connection, checking: corral.aio.Connection, repo: AptRepo
) -> None:
    await ops.package(c, [A, B], options=repo.options, sudo=True)

    async def apply(conn: corral.aio.Connection) -> ops.OpResult:
        return await ops.package(conn, [B], state="absent", options=repo.options, sudo=True)

    async def reinstall() -> None:
        await ops.package(c, [B], options=repo.options, sudo=True)

    first = await apply(c)
    assert first.message == f"remove {B}" and installed_version(B) is None
    assert not (await apply(c)).changed
    await reinstall()
    would = await apply(checking)
    assert would.changed and would.checked and installed_version(B) == "1.0"


async def test_an_unknown_package_is_a_typed_error_and_nothing_is_installed(
    c: corral.aio.Connection, checking: corral.aio.Connection, repo: AptRepo
) -> None:
    with pytest.raises(PackageManagerError) as caught:
        await ops.package(c, [A, "corral-test-no-such"], options=repo.options, sudo=True)
    error = caught.value
    assert (error.host, error.operation, error.argument) == (c.original_host, "package", "names")
    assert "no package named corral-test-no-such" in str(error)
    assert "after refreshing the cache" in str(error)
    assert installed_version(A) is None  # one transaction: the known one was not installed
    with pytest.raises(PackageManagerError):  # the cache is fresh now: check mode knows too
        await ops.package(checking, ["corral-test-no-such"], options=repo.options, sudo=True)


async def test_a_package_manager_that_is_missing_is_a_typed_error(
    c: corral.aio.Connection,
) -> None:
    with pytest.raises(PackageManagerError) as caught:
        await ops.package(c, "bash", manager="dnf")
    assert caught.value.argument == "manager"
    assert "dnf is not installed on the host" in str(caught.value)
    with pytest.raises(PackageManagerError) as unknown:
        await ops.package(c, "bash", manager="pacman")
    assert "corral knows apt, dnf, yum, apk" in str(unknown.value)


async def test_a_package_already_present_costs_one_query_from_the_facts(
    c: corral.aio.Connection,
) -> None:
    result = await ops.package(c, ["bash", "coreutils"])  # the host's own apt, read only
    assert not result.changed and result.commands == () and len(result.probes) == 1


async def test_the_apt_probe_reads_the_cache_age_only_when_it_can_matter(
    c: corral.aio.Connection,
) -> None:
    present = await c.probe(Apt().probe(["bash", "coreutils"], []))  # the host's own dpkg
    assert "installed bash ii " in present.stdout and "installed coreutils ii " in present.stdout
    assert "age " not in present.stdout  # nothing missing: no apt-config, no lists
    age = re.compile(r"^age (\d+|-)$", re.M)
    assert age.search((await c.probe(Apt().probe(["bash", "corral-test-none"], []))).stdout)
    assert age.search((await c.probe(Apt().probe(["bash"], ["bash"]))).stdout)  # latest


@pytest.mark.parametrize("names", [[], ["ok", "bad;name"], ["-o"], [""]])
async def test_bad_package_names_are_refused(c: corral.aio.Connection, names: list[str]) -> None:
    with pytest.raises(OperationArgumentError) as caught:
        await ops.package(c, names)
    assert caught.value.argument == "names"
