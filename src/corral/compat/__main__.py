"""`python -m corral.compat SCRIPT [ARGS...]`: run a script that imports fabric, invoke or
patchwork (a program built on Fabric) with corral standing in for those not installed."""

from __future__ import annotations

import os
import runpy
import sys

from .shims import stand_ins


def main(argv: list[str]) -> int:
    """Run SCRIPT as __main__ with the stand-ins; return its exit status."""
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    script, *args = argv
    sys.argv = [script, *args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))  # as `python SCRIPT` does
    with stand_ins():
        try:
            runpy.run_path(script, run_name="__main__")
        except SystemExit as exc:
            code = exc.code
            if code is None or isinstance(code, int):
                return code or 0
            print(code, file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
