"""Plumbing shared by corral's bench drivers: the shared kit's `_common`, taught `deploy10`.

The kit's drivers/_common.py (imported from the kit, not copied; $BENCH_KIT, default
<repo>/../shared/bench) knows the kit's workloads only. `deploy10` is added here, as a fan-out
workload (every host of the hosts file): connect every host, then 10 sequential group-wide
steps `echo step $i`, each host's stdout checked at each step. A host counts as ok when all
10 of its steps returned exit 0 and the right stdout.

Standard library only: the drivers import it under corral's python and under the kit's venv.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

KIT = Path(
    os.environ.get("BENCH_KIT") or Path(__file__).resolve().parents[2].parent / "shared" / "bench"
)
sys.path.insert(0, str(KIT / "drivers"))
import _common as C  # noqa: E402

DEPLOY = "deploy10"
STEPS = 10
if DEPLOY not in C.WORKLOADS:  # Run() reads both tuples when it parses the arguments
    C.WORKLOADS = (*C.WORKLOADS, DEPLOY)
    C.FANOUT = (*C.FANOUT, DEPLOY)


def step_command(i: int) -> str:
    return f"echo step {i}"


def step_stdout(i: int) -> str:
    return f"step {i}\n"


def write_ssh_config(run: C.Run, directory: str) -> str:
    """An ssh_config pointing at the fleet's known_hosts and key, host key checking on."""
    path = os.path.join(directory, "ssh_config")
    with open(path, "w") as f:
        f.write(
            "Host *\n"
            f"  UserKnownHostsFile {run.known_hosts}\n"
            f"  IdentityFile {run.key}\n"
            "  IdentitiesOnly yes\n"
            "  StrictHostKeyChecking yes\n"
        )
    return path


class Tally:
    """Per-host step outcomes of deploy10 (a host is ok when every step was right)."""

    def __init__(self, run: C.Run) -> None:
        self.run = run
        self.good: dict[str, int] = {h.spec: 0 for h in run.hosts}
        self.failed_once: set[str] = set()

    def check(self, spec: str, step: int, exited: object, stdout: object, err: str = "") -> None:
        if spec not in self.good:
            self.run.error(spec, f"step {step}: unknown host in the result")
            return
        if not err and exited == 0 and stdout == step_stdout(step):
            self.good[spec] += 1
            return
        if spec not in self.failed_once:  # one recorded error per host
            self.failed_once.add(spec)
            why = err or f"exit {exited} stdout {stdout!r}"
            self.run.error(spec, f"step {step}: {why}")

    def missing(self, step: int, seen: set[str]) -> None:
        """Hosts that a step's result left out are failures of that step."""
        for spec in self.good:
            if spec not in seen:
                self.check(spec, step, None, None, "host missing from the step's result")

    def report(self, **extra: object) -> None:
        ok = sum(1 for n in self.good.values() if n == STEPS)
        self.run.report(ok, len(self.good) - ok, steps=STEPS, **extra)
