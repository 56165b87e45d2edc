"""`JsonLines`: `--output jsonl`, every event of the run as one JSON object per line, written
as it happens (for CI and log shippers)."""

from __future__ import annotations

import json
import threading
from typing import IO

from ..events import Event


class JsonLines:
    """An event consumer that writes each event's `to_dict()` as a line and flushes it.

    Events come from the loop thread (a host's output) and the main thread (a run's start
    and end): a lock keeps their lines whole.
    """

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._lock = threading.Lock()

    def __call__(self, event: Event) -> None:
        line = json.dumps(event.to_dict(), ensure_ascii=False, default=str) + "\n"
        with self._lock:
            self.stream.write(line)
            self.stream.flush()
