"""``python -m corral.testing.fleet.embedded --directory D --hosts N [--alias-prefix host]``."""

import sys

from .server import main

sys.exit(main())
