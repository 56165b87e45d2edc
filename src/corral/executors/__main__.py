"""A pool executor's worker process: `python -m corral.executors` (started by PoolExecutor)."""

from __future__ import annotations

from .pool import main

if __name__ == "__main__":
    main()
