"""A corral-like process that records runs in a journal: the tests start it as a real
subprocess (concurrent writers, locked/read-only/full/damaged journals).

It emits sample runs through an EventBus to the journal and to its own "run" consumer, closes
the journal, prints `run finished: N runs` and exits 0: the run goes on whatever the journal does.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from corral.events import EventBus
from corral.journal import Journal, JournalSettings
from corral.journal.sample import sample_run


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", required=True)
    parser.add_argument("--url")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--hosts", type=int, default=5)
    parser.add_argument("--lines", type=int, default=3)
    parser.add_argument("--prefix", default="run")
    parser.add_argument("--busy-timeout", type=float, default=5.0)
    parser.add_argument("--secret", action="append", default=[])
    # 20 writers starting at once on 2 cores: the import alone can take seconds
    parser.add_argument("--close-timeout", type=float, default=60.0)
    parser.add_argument("--start", type=float, default=time.time() - 3600)
    args = parser.parse_args()

    settings = JournalSettings(path=Path(args.path), url=args.url, busy_timeout=args.busy_timeout)
    journal = Journal(settings, secrets=args.secret)
    bus = EventBus()
    bus.subscribe(journal.consumer())
    seen = {"events": 0}
    bus.subscribe(lambda event: seen.__setitem__("events", seen["events"] + 1))
    for n in range(args.runs):
        for event in sample_run(
            f"{args.prefix}-{n:04d}",
            hosts=args.hosts,
            lines=args.lines,
            seed=n,
            start=args.start + n,
        ):
            bus.emit(event)
    journal.close(args.close_timeout)
    print(f"run finished: {args.runs} runs, {seen['events']} events", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
