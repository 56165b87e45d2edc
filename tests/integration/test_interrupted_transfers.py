"""An interrupted upload leaves nothing behind: Ctrl-C, SIGTERM or a cancelled task during a
put to several hosts removes every temp file (and a sudo upload's staging directory), and the
targets are as they were. The hosts of a fleet are this machine, so the test looks directly."""

from __future__ import annotations

import asyncio
import io
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, cast

import pytest

import corral.aio
import corral.errors
from corral.testing.fleet import SSHDFleet

from .conftest import fleet_config

SLOW_READER = '''
import io, time

class Slow(io.RawIOBase):
    """20 MiB that take about 4 s to read: an upload is surely in flight when interrupted."""

    def __init__(self, size=20 << 20):
        self.left = size

    def readable(self):
        return True

    def read(self, n=-1):
        time.sleep(0.2)
        n = min(n if n and n > 0 else 1 << 20, self.left)
        self.left -= n
        return b"x" * n
'''
namespace: dict[str, Any] = {}
exec(SLOW_READER, namespace)  # the same reader in this process and in the scripts below
Slow: Callable[[], IO[bytes]] = namespace["Slow"]


@pytest.fixture
def targets(fleet: SSHDFleet, tmp_path: Path) -> Iterator[dict[str, Path]]:
    """A directory per host, writable by the login user; checked and removed afterwards."""
    root = Path(f"/tmp/corral-interrupt-{os.getpid()}-{tmp_path.name}")
    root.mkdir(mode=0o777)
    root.chmod(0o777)
    dirs = {}
    for host in fleet.hosts:
        dirs[host.alias] = root / host.alias
        dirs[host.alias].mkdir(mode=0o777)
        dirs[host.alias].chmod(0o777)
    yield dirs
    subprocess.run(["rm", "-rf", str(root)], check=False)


def _temp_files(dirs: dict[str, Path]) -> list[str]:
    return sorted(str(p) for d in dirs.values() for p in d.iterdir() if p.name.startswith("."))


def _wait_for_temp_files(dirs: dict[str, Path], count: int, deadline: float = 20) -> None:
    until = time.monotonic() + deadline
    while len(_temp_files(dirs)) < count:
        assert time.monotonic() < until, f"uploads did not start: {_temp_files(dirs)}"
        time.sleep(0.05)


def _staging_dirs(user: str) -> list[str]:
    """sudo uploads' private staging directories of `user` that hold a file being uploaded."""
    import pwd

    uid = pwd.getpwnam(user).pw_uid
    return sorted(
        str(p)
        for p in Path("/tmp").glob("corral-??????????")
        if p.stat().st_uid == uid and (p / "upload").exists()
    )


def _assert_clean(dirs: dict[str, Path]) -> None:
    assert _temp_files(dirs) == []  # no .corral-* temp file left on any host
    assert all(list(d.iterdir()) == [] for d in dirs.values())  # no target either


async def test_a_cancelled_group_upload_removes_every_temp_file(
    fleet: SSHDFleet, targets: dict[str, Path]
) -> None:
    async with corral.aio.Group(*targets, config=fleet_config(fleet)) as group:

        async def upload(c: corral.aio.Connection) -> object:
            return await c.put(Slow(), f"{targets[c.original_host]}/big.bin")

        task = asyncio.ensure_future(group.apply(upload))
        until = time.monotonic() + 20
        while len(_temp_files(targets)) < len(targets):
            assert time.monotonic() < until, "uploads did not start"
            await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    _assert_clean(targets)


def _script(fleet: SSHDFleet, body: str) -> str:
    return (
        SLOW_READER
        + textwrap.dedent(f"""
            import sys, corral
            config = corral.Config(overrides={{
                "ssh_config_path": {str(fleet.ssh_config_path)!r},
                "sudo": {{"password": {fleet.password!r}}},
            }})
        """)
        + textwrap.dedent(body)
    )


@pytest.mark.parametrize("sudo", [False, True], ids=["as-user", "sudo"])
def test_ctrl_c_during_a_blocking_group_upload_removes_every_temp_file(
    fleet: SSHDFleet, targets: dict[str, Path], tmp_path: Path, sudo: bool
) -> None:
    script = tmp_path / "upload.py"
    script.write_text(
        _script(
            fleet,
            f"""
            targets = { ({k: str(v) for k, v in targets.items()})!r}
            group = corral.Group(*targets, config=config)
            try:
                group.apply(
                    lambda c: c.put(Slow(), targets[c.original_host] + "/big.bin", sudo={sudo})
                )
            except KeyboardInterrupt:
                print(group.last_result.summary())
                sys.exit(130)
            """,
        )
    )
    staging: list[str] = []
    proc = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        if sudo:  # the file fills a private staging directory first: find ours
            until = time.monotonic() + 20
            while len(staging) < len(targets):
                assert time.monotonic() < until, "sudo uploads did not start"
                staging = _staging_dirs(fleet.user)
                time.sleep(0.05)
        else:
            _wait_for_temp_files(targets, len(targets))
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in out
    _assert_clean(targets)
    assert [d for d in staging if Path(d).exists()] == []  # the staging directories went too
    assert "Traceback" not in err


CORRALFILE = (
    SLOW_READER
    + """
from corral import task

@task
def upload(c, where):
    c.put(Slow(), f"{where}/{c.original_host}/big.bin")
"""
)


@pytest.mark.parametrize(
    ("mode", "signum", "status"),
    [([], signal.SIGINT, 130), (["-P"], signal.SIGINT, 130), (["-P"], signal.SIGTERM, 143)],
    ids=["serial-INT", "parallel-INT", "parallel-TERM"],
)
def test_an_interrupted_corral_upload_leaves_no_temp_file(
    fleet: SSHDFleet,
    targets: dict[str, Path],
    tmp_path: Path,
    mode: list[str],
    signum: int,
    status: int,
) -> None:
    (tmp_path / "corralfile.py").write_text(CORRALFILE)
    root = next(iter(targets.values())).parent
    hosts = ",".join(targets)
    proc = subprocess.Popen(
        [sys.executable, "-m", "corral.cli.main", "-S", str(fleet.ssh_config_path), "-H", hosts,
         *mode, "upload", str(root)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        _wait_for_temp_files(targets, 1 if not mode else len(targets))
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == status, err
    assert "interrupted" in out + err
    _assert_clean(targets)
    assert "Traceback" not in err


def test_a_failed_upload_names_a_temp_file_it_could_not_remove(
    fleet: SSHDFleet, targets: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    # the upload dies with its connection; the directory then refuses the removal too
    host = fleet.hosts[0]
    directory = targets[host.alias]

    async def main() -> None:
        async with corral.aio.Connection(host.alias, config=fleet_config(fleet)) as c:

            class Breaking(io.RawIOBase):
                sent = 0

                def readable(self) -> bool:
                    return True

                def read(self, n: int = -1) -> bytes:
                    self.sent += 1
                    if self.sent == 3:
                        directory.chmod(0o555)  # the temp file can no longer be removed
                        raise OSError(5, "disk on fire")
                    return b"y" * (1 << 20)

            with pytest.raises(corral.errors.TransferError, match="disk on fire"):
                await c.put(cast(IO[bytes], Breaking()), f"{directory}/big.bin")

    try:
        asyncio.run(main())
    finally:
        directory.chmod(0o777)
    left = _temp_files(targets)
    assert len(left) == 1
    assert f"could not remove the temp file {left[0]}" in caplog.text
