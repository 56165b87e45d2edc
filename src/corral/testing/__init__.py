"""Test kit: throwaway fleets of real SSH hosts on loopback (`corral.testing.fleet`), faults to
break them with (`corral.testing.faults`), a `MockContext` for unit tests of tasks, and a pytest
plugin (`corral.testing.plugin`, loaded automatically) with fixtures. The `corral` command
imports none of it, except for `--demo` (`corral.testing.demo`)."""

from .fleet import Fleet, FleetError, FleetHost, FleetUnavailable, start_fleet
from .mock import MockContext

__all__ = ["Fleet", "FleetError", "FleetHost", "FleetUnavailable", "MockContext", "start_fleet"]
