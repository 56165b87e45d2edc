"""The README's first command: `corral --demo`, as a real subprocess."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("extra", [[], ["--demo-embedded"]])
def test_demo_runs_the_tour_and_stops_its_fleet(extra: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "corral.cli.main", "--demo", *extra],
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    server = "embedded SSH server" if extra else "OpenSSH sshd"
    assert f"served by corral's {server}" in out or f"served by {server}" in out
    assert "exited with status 3" in out and "disk quota exceeded" in out
    assert "timed out after 1 s" in out
    assert "'sleep 299' processes left on host1: none" in out
    assert "unknown host key" in out
    assert "Fleet stopped" in out
    assert "Traceback" not in proc.stderr


def test_version_and_help() -> None:
    version = subprocess.run(
        [sys.executable, "-m", "corral.cli.main", "--version"], capture_output=True, text=True
    )
    assert version.returncode == 0 and version.stdout.startswith("corral ")
    bare = subprocess.run([sys.executable, "-m", "corral.cli.main"], capture_output=True, text=True)
    assert bare.returncode == 2 and "--demo" in bare.stdout
