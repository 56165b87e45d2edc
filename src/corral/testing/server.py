"""The embedded SSH server's former home: it lives in :mod:`corral.testing.fleet.embedded` now.

``from corral.testing.server import EmbeddedFleet`` and ``python -m corral.testing.server`` keep
working."""

import sys

from .fleet.embedded import EmbeddedFleet
from .fleet.embedded.server import main

__all__ = ["EmbeddedFleet", "main"]

if __name__ == "__main__":
    sys.exit(main())
