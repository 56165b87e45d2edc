"""The pytester plugin, for running a user's test files against corral's pytest plugin."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.import_plugin("pytester")  # as `-p pytester`, for this directory only
