"""corral's pytest plugin (registered as `corral` under `pytest11`, so pytest loads it when
corral is installed): fixtures to test corralfiles and tasks against real SSH hosts.

- ``corral_fleet`` (session): a throwaway fleet of SSH hosts on loopback, started once for the
  run: real OpenSSH sshd when running as root with sshd installed, else corral's embedded SSH
  server. Its size is the ``corral_fleet_hosts`` ini option (default 3), raised to the largest
  ``@pytest.mark.corral_fleet_hosts(N)`` among the collected tests that use it. Where no fleet
  can run, tests that use it are skipped with the reason.
- ``corral_hosts``: this test's hosts (``FleetHost``: ``.alias``, ``.address``, ...): the first
  N of the fleet, N from the test's marker, else the ini option.
- ``corral_config``: a fresh ``corral.Config`` that reads the fleet's ssh_config (its aliases,
  key and known_hosts), and only it.
- ``mock_context``: a ``corral.testing.MockContext`` with no results prepared yet.
- ``corral_faults``: a ``corral.testing.faults.Faults`` for this test (freeze or kill a host's
  sessions, a blackhole, a silent server, a tiny disk, a bastion that dies...): every fault made
  through it is undone when the test ends, also when it fails.

ini options: ``corral_fleet_hosts`` (a number) and ``corral_fleet_server`` (``auto``, ``sshd``
or ``embedded``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from corral import Config

from .faults import Faults
from .fleet import Fleet, FleetHost, FleetUnavailable, start_fleet
from .mock import MockContext

MARKER = "corral_fleet_hosts"
SERVERS = ("auto", "sshd", "embedded")
DEFAULT_HOSTS = 3
_FLEET_SIZE = pytest.StashKey[int]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "corral_fleet_hosts",
        f"corral: how many SSH hosts the corral_fleet fixture starts (default {DEFAULT_HOSTS})",
        default=str(DEFAULT_HOSTS),
    )
    parser.addini(
        "corral_fleet_server",
        "corral: what serves the corral_fleet hosts: auto (sshd when root, else the embedded "
        "server), sshd or embedded",
        default="auto",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(n): this test needs n hosts of the corral_fleet fixture (corral_hosts gives "
        "exactly n)",
    )


def _ini_hosts(config: pytest.Config) -> int:
    value = str(config.getini("corral_fleet_hosts")).strip()
    if not value.isdigit() or int(value) < 1:
        raise pytest.UsageError(
            f"ini option corral_fleet_hosts = {value!r}: expected a number >= 1"
        )
    return int(value)


def _marked_hosts(item: pytest.Item) -> int | None:
    marker = item.get_closest_marker(MARKER)
    if marker is None:
        return None
    count = marker.args[0] if len(marker.args) == 1 and not marker.kwargs else None
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise pytest.UsageError(
            f"{item.nodeid}: @pytest.mark.{MARKER} takes one number >= 1, e.g. "
            f"@pytest.mark.{MARKER}(5); got {marker.args or ''}{marker.kwargs or ''}"
        )
    return count


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Size the session's fleet for the most demanding test that uses it."""
    size = _ini_hosts(config)
    for item in items:
        if "corral_fleet" in getattr(item, "fixturenames", ()):
            size = max(size, _marked_hosts(item) or 0)
    config.stash[_FLEET_SIZE] = size


@pytest.fixture(scope="session")
def corral_fleet(pytestconfig: pytest.Config) -> Iterator[Fleet]:
    """A throwaway fleet of SSH hosts on loopback, shared by the whole test session."""
    size = pytestconfig.stash.get(_FLEET_SIZE, None) or _ini_hosts(pytestconfig)
    server = str(pytestconfig.getini("corral_fleet_server")).strip()
    if server not in SERVERS:
        raise pytest.UsageError(
            f"ini option corral_fleet_server = {server!r}: expected one of {', '.join(SERVERS)}"
        )
    try:
        if server == "embedded":
            from .server import EmbeddedFleet  # imported here: it needs asyncssh

            fleet: Fleet = EmbeddedFleet(size).start()
        else:
            fleet = start_fleet(size, embedded_fallback=server == "auto")
    except FleetUnavailable as exc:
        pytest.skip(f"corral_fleet: {exc}")
    try:
        yield fleet
    finally:
        fleet.stop()


@pytest.fixture
def corral_hosts(request: pytest.FixtureRequest, corral_fleet: Fleet) -> list[FleetHost]:
    """This test's hosts: the first N of the fleet (N from its marker, else the ini option)."""
    count = _marked_hosts(request.node) or _ini_hosts(request.config)
    return corral_fleet.hosts[:count]


@pytest.fixture
def corral_config(corral_fleet: Fleet) -> Config:
    """A Config that reads the fleet's ssh_config (aliases, key, known_hosts), and only it."""
    return Config(overrides={"ssh_config_path": str(corral_fleet.ssh_config_path)})


@pytest.fixture
def mock_context() -> MockContext:
    """A MockContext with no results prepared: add them with `set_result_for`."""
    return MockContext()


@pytest.fixture
def corral_faults() -> Iterator[Faults]:
    """A fault kit for this test: what it breaks is repaired when the test ends."""
    with Faults() as kit:
        yield kit
