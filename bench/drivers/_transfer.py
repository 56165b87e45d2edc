"""Shared part of corral's transfer drivers, bench/drivers/corral-transfer (the blocking API)
and corral-transfer-aio (`corral.aio`), for the kit's workloads put-100m and get-100m.

Protocol and plumbing: the shared kit's drivers/_common.py (imported from the kit, not copied;
$BENCH_KIT, default <repo>/../shared/bench). Like the kit's asyncssh and Fabric drivers:

  put-100m   one host; the connection is opened (and authenticated) before the timer; the
             timer covers `put(local, remote)`, SFTP channel opening included; the remote
             file's sha256 is checked after the timer
  get-100m   the same with `get(remote, local)` of a 100 MiB random file made on the host

corral's defaults are kept: `put` is atomic (a temp file in the target directory, fsync'd on
the server, renamed over the target), and `get` writes a temp file beside the target, fsyncs
it and renames it. Host keys are checked: corral reads the fleet's known_hosts through an
ssh_config written into a temporary directory (UserKnownHostsFile, IdentityFile,
StrictHostKeyChecking yes), passed as Config(overrides={"ssh_config_path": ...}).

Extra fields in the JSON line: `api` (sync or aio), `atomic`, `bytes` (what corral reported).
Set CORRAL_BENCH_ATOMIC=0 to measure put(atomic=False), for diagnosis only.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
from pathlib import Path

KIT = Path(
    os.environ.get("BENCH_KIT") or Path(__file__).resolve().parents[2].parent / "shared" / "bench"
)
sys.path.insert(0, str(KIT / "drivers"))
import _common as C  # noqa: E402
import asyncssh  # noqa: E402

import corral  # noqa: E402
import corral.aio  # noqa: E402

TRANSFERS = ("put-100m", "get-100m")
ATOMIC = os.environ.get("CORRAL_BENCH_ATOMIC", "1") != "0"


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


class Job:
    """One transfer workload's files: what to send or fetch, where, and the expected sha256."""

    def __init__(self, run: C.Run) -> None:
        self.run = run
        self.host = run.hosts[0]
        self.put = run.workload == "put-100m"
        self.tmp = ""
        if self.put:
            self.local, self.sha = run.local_file()
            self.remote = run.remote_path(self.host, "put")
        else:
            self.remote, self.sha = run.make_remote_random()
            self.tmp = C.fresh_local_dir(run)
            self.local = os.path.join(self.tmp, "got.bin")

    def verify(self) -> int:
        """1 if the transferred file has the right sha256 (outside the timer), else 0."""
        if self.put:
            return self.run.verify_remote({self.host: self.remote}, self.sha)
        if os.path.exists(self.local) and C.sha256_file(self.local) == self.sha:
            return 1
        self.run.error(self.host, "downloaded file missing or sha256 mismatch")
        return 0

    def cleanup(self) -> None:
        if self.tmp:
            shutil.rmtree(self.tmp, ignore_errors=True)


def _sync(run: C.Run, job: Job, cfg_path: str) -> int:
    cfg = corral.Config(overrides={"ssh_config_path": cfg_path})
    with corral.Connection(job.host.spec, config=cfg, connect_timeout=60) as c:
        c.open()  # connected and authenticated before the timer
        run.start()
        try:
            if job.put:
                r = c.put(job.local, job.remote, atomic=ATOMIC)
            else:
                r = c.get(job.remote, job.local)
            run.extra["bytes"] = r.bytes
        except corral.CorralError as e:
            run.error(job.host, repr(e))
        run.stop()
    return job.verify()


async def _aio(run: C.Run, job: Job, cfg_path: str) -> int:
    cfg = corral.aio.Config(overrides={"ssh_config_path": cfg_path})
    async with corral.aio.Connection(job.host.spec, config=cfg, connect_timeout=60) as c:
        await c.open()  # connected and authenticated before the timer
        run.start()
        try:
            if job.put:
                r = await c.put(job.local, job.remote, atomic=ATOMIC)
            else:
                r = await c.get(job.remote, job.local)
            run.extra["bytes"] = r.bytes
        except corral.CorralError as e:
            run.error(job.host, repr(e))
        run.stop()
    return job.verify()


def main(api: str) -> None:
    tool = "corral-transfer" if api == "sync" else "corral-transfer-aio"
    run = C.Run(tool, f"{corral.__version__} (asyncssh {asyncssh.__version__})")
    if run.workload not in TRANSFERS:
        run.skip(f"{tool} measures {' and '.join(TRANSFERS)} only (see bench/drivers/corral)")
    run.extra.update(api=api, atomic=ATOMIC)
    job = None
    try:
        job = Job(run)
        with tempfile.TemporaryDirectory(prefix="corral-bench-") as tmp:
            path = write_ssh_config(run, tmp)
            ok = _sync(run, job, path) if api == "sync" else asyncio.run(_aio(run, job, path))
        run.report(ok, 1 - ok)
    finally:
        if job is not None:
            job.cleanup()
        run.cleanup_remote()
