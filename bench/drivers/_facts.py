"""Plumbing of the facts benchmark's drivers: the shared kit's `_common`, taught two
fan-out workloads (every host of the hosts file, cold: connect, one command, close):

  uname-a   `uname -a`; stdout must be this machine's `uname -a` (the hosts are this machine)
  facts     gather facts: corral's one-round-trip probe, Ansible's setup module; each host's
            hostname, CPU count and OS family must be this machine's

Standard library only: the drivers import it under corral's python and under the kit's venv.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

KIT = Path(
    os.environ.get("BENCH_KIT") or Path(__file__).resolve().parents[2].parent / "shared" / "bench"
)
sys.path.insert(0, str(KIT / "drivers"))
import _common as C  # noqa: E402

UNAME = "uname-a"
FACTS = "facts"
for _workload in (UNAME, FACTS):
    if _workload not in C.WORKLOADS:  # Run() reads both tuples when it parses the arguments
        C.WORKLOADS = (*C.WORKLOADS, _workload)
        C.FANOUT = (*C.FANOUT, _workload)


def uname_a() -> str:
    """This machine's `uname -a` output: what every host of the fleet must print."""
    return subprocess.run(["uname", "-a"], capture_output=True, text=True, check=True).stdout


def os_family() -> str:
    """This machine's OS family as corral names it (its os-release ID or ID_LIKE)."""
    values = {}
    for line in Path("/etc/os-release").read_text().splitlines():
        key, _, value = line.partition("=")
        values[key] = value.strip('"')
    like = values.get("ID_LIKE", "").split()
    return "debian" if "debian" in (values.get("ID"), *like) else values.get("ID", "")


EXPECTED = {
    "hostname": os.uname().nodename,
    "cpu_count": os.cpu_count(),
    "arch": platform.machine(),
}
