"""A connection made before os.fork() works in the child (a fresh connection, made
transparently) and stays unharmed in the parent; an aio Connection works across two
asyncio.run() calls. Each case runs in a script of its own (forking pytest itself would
copy its threads and its captured streams)."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from corral.testing.fleet import SSHDFleet


def _run(fleet: SSHDFleet, tmp_path: Path, body: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "script.py"
    script.write_text(
        textwrap.dedent(f"""
            import asyncio, os, sys
            import corral, corral.aio
            config = corral.Config(overrides={{"ssh_config_path": {str(fleet.ssh_config_path)!r}}})
            hosts = {[h.alias for h in fleet.hosts]!r}
        """)
        + textwrap.dedent(body)
    )
    return subprocess.run(
        [sys.executable, "-X", "dev", str(script)],  # dev mode: every warning is shown
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def test_a_connection_opened_before_fork_works_in_the_child_and_the_parent(
    fleet: SSHDFleet, tmp_path: Path
) -> None:
    proc = _run(
        fleet,
        tmp_path,
        """
        c = corral.Connection(hosts[0], config=config)
        print("parent", c.run("echo $$", hide=True).ok)
        pid = os.fork()
        if pid == 0:
            try:
                print("child", c.run("echo from-child", hide=True).stdout.strip(), flush=True)
                group = corral.Group(*hosts, config=config)
                print("child group", len(group.run("true", hide=True)), flush=True)
                c.close()
            except BaseException as exc:
                print("child failed:", type(exc).__name__, exc, flush=True)
                os._exit(3)
            os._exit(0)
        _, status = os.waitpid(pid, 0)
        print("child exited", os.waitstatus_to_exitcode(status))
        print("parent again", c.run("echo from-parent", hide=True).stdout.strip())
        c.close()
        """,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "parent True",
        "child from-child",
        "child group 3",
        "child exited 0",
        "parent again from-parent",
    ]
    assert "attached to a different loop" not in proc.stderr
    assert "Traceback" not in proc.stderr


def test_an_aio_connection_works_across_asyncio_runs(fleet: SSHDFleet, tmp_path: Path) -> None:
    proc = _run(
        fleet,
        tmp_path,
        """
        c = corral.aio.Connection(hosts[0], config=config)
        group = corral.aio.Group(*hosts, config=config)

        async def once(word):
            result = await c.run(f"echo {word}", hide=True)
            await group.run("true", hide=True)
            return result.stdout.strip()

        print(asyncio.run(once("one")))
        print(asyncio.run(once("two")))

        async def close():
            await c.close()
            await group.close()

        asyncio.run(close())
        """,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == ["one", "two"]
    assert "different loop" not in proc.stderr and "Event loop is closed" not in proc.stderr
