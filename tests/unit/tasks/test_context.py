"""The local Context (a task run without hosts): run, sudo, cd, prefix, dry runs, timeouts."""

from __future__ import annotations

import io
import secrets
import subprocess
from pathlib import Path

import pytest

import corral
import corral.aio
from corral import CommandTimedOut, Config, UnexpectedExit


async def test_run_cd_prefix_and_env() -> None:
    c = corral.aio.Context()
    with c.cd("/"), c.cd("tmp"), c.prefix("export B=2"):
        result = await c.run('echo "$PWD $A $B"', env={"A": "1"}, hide=True)
    assert result.stdout == "/tmp 1 2\n"
    assert result.host == "local" and result.connection is c
    assert result.command == 'cd /tmp && export B=2 && echo "$PWD $A $B"'


def test_the_sync_twin_runs_the_same_and_is_the_results_connection() -> None:
    c = corral.Context(Config(overrides={"run": {"hide": True}}))
    result = c.run(["printf", "%s", "a b; $(c)"])
    assert result.stdout == "a b; $(c)" and result.connection is c
    assert c.config.run.hide is True


def test_a_failing_command_raises_unexpected_exit_naming_local() -> None:
    with pytest.raises(UnexpectedExit, match="local: command 'exit 4' exited with status 4"):
        corral.Context().run("exit 4", hide=True)
    assert corral.Context().run("exit 4", warn=True, hide=True).exited == 4


def test_dry_run_prints_and_runs_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    marker = tmp_path / "made"
    c = corral.Context(Config(overrides={"run": {"dry": True}}))
    with c.cd(str(tmp_path)):
        result = c.run(f"touch {marker}")
        c.sudo("reboot")
    assert not marker.exists() and result.ok and result.stdout == ""
    out = capsys.readouterr().out.splitlines()
    assert out == [
        f"[local] cd {tmp_path} && touch {marker}",
        f"[local] sudo cd {tmp_path} && reboot",
    ]


def test_a_timed_out_command_and_its_children_are_killed() -> None:
    sleep = f"sleep 30.{secrets.randbelow(10**6):06d}"
    with pytest.raises(CommandTimedOut, match=r"timed out after 0\.3 s"):
        corral.Context().run(f"{sleep} & {sleep}; wait", timeout=0.3, hide=True)
    left = subprocess.run(["pgrep", "-f", sleep], capture_output=True, text=True)
    assert left.stdout == ""


def test_large_output_to_a_stream_keeps_only_a_bounded_tail() -> None:
    sink = io.BytesIO()
    result = corral.Context().run(
        "head -c 3000000 /dev/zero; printf END", out_stream=sink, capture_limit=1000
    )
    assert len(sink.getvalue()) == 3_000_003
    assert len(result.stdout_bytes) == 1000 and result.stdout.endswith("END")
    assert result.stdout_truncated


@pytest.mark.needs("root", "sudo")  # sudo without a password
def test_sudo_runs_the_whole_command_as_another_user() -> None:
    c = corral.Context()
    with c.cd("/"):
        result = c.sudo("echo $(whoami) $PWD $X", user="nobody", env={"X": "y"}, hide=True)
    assert result.stdout.strip() == "nobody / y"
    assert result.command == "sudo -u nobody cd / && echo $(whoami) $PWD $X"
