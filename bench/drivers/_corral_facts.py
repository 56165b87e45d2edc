"""The body of corral's facts-benchmark drivers (corral-facts: sync; corral-facts-aio)."""

from __future__ import annotations

import asyncio
import tempfile
from typing import Any

import _facts as F
import _scale as S
import asyncssh

import corral
import corral.aio

C = F.C
TIMEOUT = 120


def check_facts(run: Any, name: str, facts: Any, family: str) -> bool:
    if not isinstance(facts, corral.Facts):
        run.error(name, repr(facts))
        return False
    got = {"hostname": facts.hostname, "cpu_count": facts.cpu_count, "arch": facts.arch}
    if got != F.EXPECTED or facts.os.family != family:
        run.error(name, f"facts {got} os.family {facts.os.family!r}")
        return False
    return True


def main(tool: str, blocking: bool) -> None:
    run = C.Run(tool, f"{corral.__version__} (asyncssh {asyncssh.__version__})")
    if run.workload not in (F.UNAME, F.FACTS):
        run.skip(f"not measured by this driver: {run.workload}")
    specs = [h.spec for h in run.hosts]
    want = F.uname_a()
    family = F.os_family()

    def tally(result: Any) -> int:
        ok = 0
        for conn, outcome in result.items():
            name = conn.original_host
            if run.workload == F.FACTS:
                ok += check_facts(run, name, outcome, family)
            elif isinstance(outcome, BaseException):
                run.error(name, repr(outcome))
            elif outcome.exited == 0 and outcome.stdout == want:
                ok += 1
            else:
                run.error(name, f"exit {outcome.exited} stdout {outcome.stdout!r}")
        return ok

    with tempfile.TemporaryDirectory(prefix="corral-bench-") as tmp:
        config = corral.Config(overrides={"ssh_config_path": S.write_ssh_config(run, tmp)})
        limits = {"concurrency": run.concurrency, "connect_timeout": 60}
        if blocking:
            run.start()
            group = corral.Group(*specs, config=config, **limits)
            try:
                if run.workload == F.FACTS:
                    result = group.facts()
                else:
                    result = group.run("uname -a", hide=True, warn=True, in_stream=False,
                                       timeout=TIMEOUT)  # fmt: skip
            except corral.GroupException as exc:
                result = exc.result
            group.close()
            run.stop()
        else:

            async def go() -> Any:
                run.start()
                group = corral.aio.Group(*specs, config=config, **limits)
                try:
                    if run.workload == F.FACTS:
                        result = await group.facts()
                    else:
                        result = await group.run("uname -a", hide=True, warn=True,
                                                 in_stream=False, timeout=TIMEOUT)  # fmt: skip
                except corral.aio.GroupException as exc:
                    result = exc.result
                await group.close()
                run.stop()
                return result

            result = asyncio.run(go())
        ok = tally(result)
        run.report(ok, len(run.hosts) - ok)
