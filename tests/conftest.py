"""Fixtures for every test: a private HOME, and throwaway fleets of real SSH hosts.

At import time HOME points at a fresh temporary directory (restored at exit) and SSH_AUTH_SOCK
is removed, so no test reads or writes the real ~/.ssh or uses the developer's agent.

- ``fleet`` (session): a 3-host fleet started once for the whole run.
- ``make_fleet`` (function): ``make_fleet(hosts=1, **kwargs)`` starts a fleet of the test's own
  (e.g. with ``sshd_options``, or to kill its sshd); every fleet it made is stopped afterwards.

Where no fleet can run (not root, no sshd), tests that use them are skipped with the reason.

``@pytest.mark.needs("rsync", ...)``: a test that needs a tool on PATH (or "root", or "sshd": a
real-sshd fleet can run) is skipped with the reason where it is missing; under CI (the ``CI``
variable set) it fails instead, since CI installs everything (scripts/install).
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from corral.testing.fleet import Fleet, FleetUnavailable, SSHDFleet, sshd_available, start_fleet

# A suite started in the background by a shell without job control (`scripts/test &`) inherits
# SIGINT ignored, and so would every `corral` the tests start and then interrupt (an ignored
# signal stays ignored across exec, as corral rightly leaves it). The tests send SIGINT on
# purpose: give it back its default handling here, which children get as SIG_DFL.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

_REAL_HOME = os.environ.get("HOME")
_TEST_HOME = tempfile.mkdtemp(prefix="corral-tests-home-")
os.environ["HOME"] = _TEST_HOME
os.environ.pop("SSH_AUTH_SOCK", None)


@atexit.register
def _restore_home() -> None:
    if _REAL_HOME is None:
        os.environ.pop("HOME", None)
    else:
        os.environ["HOME"] = _REAL_HOME
    shutil.rmtree(_TEST_HOME, ignore_errors=True)


def _has(need: str) -> bool:
    if need == "root":
        return os.geteuid() == 0
    if need == "sshd":
        return sshd_available()
    return shutil.which(need) is not None


def pytest_runtest_setup(item: pytest.Item) -> None:
    """Skip a test whose ``needs`` are missing here; fail it under CI."""
    missing = [n for marker in item.iter_markers("needs") for n in marker.args if not _has(n)]
    if missing:
        reason = f"needs {', '.join(missing)}"
        if os.environ.get("CI"):  # CI runs as root with scripts/install: a skip would hide a gap
            pytest.fail(f"{reason}, which CI must have (scripts/install installs the tools)")
        pytest.skip(reason)


def _start(hosts: int, **kwargs: Any) -> Fleet:
    try:
        return start_fleet(hosts, **kwargs)
    except FleetUnavailable as e:
        if os.environ.get("CI"):  # CI installs sshd and runs as root: a skip would hide a gap
            pytest.fail(f"no fleet in CI: {e}")
        pytest.skip(str(e))


def _start_sshd(hosts: int, **kwargs: Any) -> SSHDFleet:
    fleet = _start(hosts, embedded_fallback=False, **kwargs)
    assert isinstance(fleet, SSHDFleet)
    return fleet


@pytest.fixture(scope="session")
def fleet() -> Iterator[SSHDFleet]:
    """A 3-host fleet of real sshd shared by the whole test session."""
    f = _start_sshd(3)
    try:
        yield f
    finally:
        f.stop()


@pytest.fixture
def make_fleet() -> Iterator[Callable[..., SSHDFleet]]:
    """A factory of real-sshd fleets for one test: ``make_fleet(hosts=1, **kwargs)``."""
    made: list[SSHDFleet] = []

    def make(hosts: int = 1, **kwargs: Any) -> SSHDFleet:
        f = _start_sshd(hosts, **kwargs)
        made.append(f)
        return f

    yield make
    errors: list[BaseException] = []
    for f in reversed(made):
        try:
            f.stop()
        except Exception as e:
            errors.append(e)
    if errors:
        raise errors[0]
