"""`sample_run`: the events of a made-up run (a deploy over N hosts, some failing), for the
demo report, the benchmark and the tests. Deterministic for a given seed."""

from __future__ import annotations

import random

from ..events import (
    Event,
    HostFinished,
    HostStarted,
    OperationResult,
    OutputLine,
    RunFinished,
    RunStarted,
)

_DIFF = """\
--- /etc/app/app.conf
+++ /etc/app/app.conf (new)
@@ -1,4 +1,4 @@
 [server]
-replicas = 2
+replicas = 3
 port = 8080
-banner = "staging"
+banner = "production"
"""


def sample_run(
    run_id: str,
    *,
    hosts: int = 12,
    failures: int = 2,
    start: float = 1_796_000_000.0,
    seed: int = 7,
    lines: int = 4,
    user: str = "deploy",
) -> list[Event]:
    """Return the events of a deploy to `hosts` hosts of which `failures` fail."""
    rng = random.Random(seed)
    names = [f"web{i:03d}" for i in range(1, hosts + 1)]
    failing = set(rng.sample(names, min(failures, hosts)))
    events: list[Event] = [
        RunStarted(
            run_id,
            start,
            argv=("corral", "-P", "-H", f"web[001-{hosts:03d}]", "deploy", "--branch", "main"),
            user=user,
            controller="ops1",
            version="0.1.0",
            cwd="/home/deploy/app",
            tasks=("deploy",),
            selection=f"web[001-{hosts:03d}]",
            hosts=tuple(names),
            config={"concurrency": 64, "batch_size": None, "dry": False},
        )
    ]
    finished: list[HostFinished] = []
    for index, name in enumerate(names):
        began = start + 0.05 + (index % 64) * 0.02 + rng.random() * 0.3
        took = 1.5 + rng.random() * 4
        events.append(HostStarted(run_id, began, host=name))
        for n in range(lines):
            events.append(
                OutputLine(
                    run_id, began + 0.1 * n, host=name, text=f"[{n + 1}/{lines}] step on {name}"
                )
            )
        events.append(
            OperationResult(
                run_id,
                began + 0.5,
                host=name,
                operation="put_template app.conf",
                changed=index % 3 == 0,
                ok=True,
                message="/etc/app/app.conf",
                diff=_DIFF if index % 3 == 0 else None,
                commands=("app --check-config /etc/app/.app.conf.tmp",),
            )
        )
        if name in failing:
            events.append(
                OutputLine(
                    run_id, began + took, host=name, stream="stderr", text="app: port 8080 in use"
                )
            )
            events.append(
                HostFinished(
                    run_id,
                    began + took,
                    host=name,
                    status="failed",
                    exit_code=75,
                    error_type="UnexpectedExit",
                    error=f"{name}: command 'systemctl reload app' exited with status 75",
                    duration=took,
                    task="deploy",
                )
            )
        else:
            events.append(
                HostFinished(
                    run_id,
                    began + took,
                    host=name,
                    status="ok",
                    exit_code=0,
                    duration=took,
                    task="deploy",
                )
            )
        finished.append(events[-1])  # type: ignore[arg-type]
    end = max(e.time for e in finished) + 0.05
    counts = {"ok": hosts - len(failing), "failed": len(failing), "skipped": 0, "interrupted": 0}
    events[1:] = sorted(events[1:], key=lambda e: e.time)  # as they would arrive
    events.append(
        RunFinished(
            run_id, end, counts=counts, duration=end - start, exit_status=75 if failing else 0
        )
    )
    return events
