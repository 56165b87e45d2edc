"""Raising the open-file limit to what a group's concurrency needs."""

from __future__ import annotations

import logging
import resource

log = logging.getLogger("corral.limits")

#: File descriptors per host in flight (socket, plus headroom for pipes and transfers).
FDS_PER_HOST = 3
RESERVE = 256


def ensure_open_files(concurrency: int) -> int:
    """Raise the soft RLIMIT_NOFILE for `concurrency` hosts; return the usable concurrency."""
    needed = concurrency * FDS_PER_HOST + RESERVE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed or soft == resource.RLIM_INFINITY:
        return concurrency
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        target = soft
    if target >= needed:
        return concurrency
    usable = max(1, (target - RESERVE) // FDS_PER_HOST)
    log.warning(
        "concurrency %d needs about %d open files, but the hard limit is %d: running %d hosts "
        "at a time instead (raise it with `ulimit -Hn`, or limits.conf / LimitNOFILE)",
        concurrency,
        needed,
        hard,
        usable,
    )
    return usable
