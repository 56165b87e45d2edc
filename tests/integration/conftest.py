"""Helpers for integration tests: a Config pointing at a fleet's ssh_config."""

from __future__ import annotations

import pytest

from corral import Config
from corral.testing.fleet import Fleet, SSHDFleet


def fleet_config(fleet: Fleet, **overrides: object) -> Config:
    """Return a Config that reads the fleet's ssh_config (and only it)."""
    return Config(overrides={"ssh_config_path": str(fleet.ssh_config_path), **overrides})


@pytest.fixture
def config(fleet: SSHDFleet) -> Config:
    return fleet_config(fleet)
