"""Fabric-style projects run under corral (and Fabric 3.2.3) against the real-sshd fleet.

`projects/` holds fabfiles written the way real projects write them, each with its data
files. A `Bench` copies one for a test, unmodified or with its imports switched to corral
(`switch_imports`), and runs `corral` (or `fab`) on it as a subprocess, with:

- FABTEST_ROOT: where the project writes on the hosts, relative to the login user's home
  (the hosts of the fleet are one machine: paths carry the host's alias),
- FABTEST_USER, FABTEST_PASSWORD, FABTEST_KEY: the fleet's login user, password and key,
- FABTEST_ADDRESS: host1's address:port, which no ssh_config entry names,
- HOME: a directory of its own (its ~/.ssh/known_hosts starts empty).

`fabric_venv` builds a virtualenv with Fabric 3.2.3 once per session (from PyPI; set
CORRAL_TEST_FABRIC_VENV to reuse one); where it cannot be built the tests that compare with
Fabric are skipped, and fail under CI.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from corral.testing.fleet import SSHDFleet

PROJECTS = Path(__file__).resolve().parent / "projects"
FABRIC_VERSION = "3.2.3"
WORKTREE = Path(__file__).resolve().parents[2]

_IMPORTS = [
    # `from fabric.x import y` -> `from corral.x import y`; patchwork -> corral.patchwork
    (
        re.compile(r"^(\s*)from (fabric|invoke)((?:\.\w+)*) import ", re.M),
        r"\1from corral\3 import ",
    ),
    (
        re.compile(r"^(\s*)from patchwork((?:\.\w+)*) import ", re.M),
        r"\1from corral.patchwork\2 import ",
    ),
    # `import fabric` -> `import corral as fabric`
    (re.compile(r"^(\s*)import (fabric|invoke)\s*$", re.M), r"\1import corral as \2"),
    (re.compile(r"^(\s*)import patchwork\s*$", re.M), r"\1import corral.patchwork as patchwork"),
]


def switch_imports(text: str) -> str:
    """Return Python source with its fabric/invoke/patchwork imports switched to corral's,
    as a user switching by hand does (`from fabric import task` -> `from corral import task`)."""
    for pattern, replacement in _IMPORTS:
        text = pattern.sub(replacement, text)
    return text


@dataclass(frozen=True)
class Run:
    """What one command did."""

    returncode: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


class Bench:
    """One project copied for a test, and the tools that run on it against the fleet."""

    def __init__(
        self,
        fleet: SSHDFleet,
        directory: Path,
        project: str,
        *,
        switched: bool = False,
        fabric_venv: Path | None = None,
    ) -> None:
        self.fleet = fleet
        self.path = directory / project
        shutil.copytree(PROJECTS / project, self.path, ignore=shutil.ignore_patterns("doctor.txt"))
        if switched:
            for source in self.path.rglob("*.py"):
                source.write_text(switch_imports(source.read_text()))
        self.fabric_venv = fabric_venv
        #: Where the project writes on the hosts, relative to the login user's home.
        self.root = f"corral-fabric-tests/{uuid.uuid4().hex[:12]}"
        first = fleet.hosts[0]
        home = directory / "home"  # known_hosts of its own: accept-new records hosts there
        home.mkdir()
        self.env = {
            **os.environ,
            "HOME": str(home),
            "FABTEST_ROOT": self.root,
            "FABTEST_USER": fleet.user,
            "FABTEST_PASSWORD": fleet.password,
            "FABTEST_KEY": str(fleet.key_path),
            "FABTEST_ADDRESS": f"{first.address}:{first.port}",
            "PYTHONDONTWRITEBYTECODE": "1",
        }

    def _run(self, argv: list[str], env: dict[str, str] | None, timeout: float) -> Run:
        proc = subprocess.run(
            argv,
            cwd=self.path,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return Run(proc.returncode, proc.stdout, proc.stderr)

    def corral(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
        """Run `corral -S SSH_CONFIG ARGS` in the project."""
        argv = [sys.executable, "-m", "corral.cli.main", "-S", str(self.fleet.ssh_config_path)]
        return self._run([*argv, *args], env, timeout)

    def fab(self, *args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Run:
        """Run Fabric's `fab -S SSH_CONFIG ARGS` in the project."""
        assert self.fabric_venv is not None
        argv = [str(self.fabric_venv / "bin" / "fab"), "-S", str(self.fleet.ssh_config_path)]
        return self._run([*argv, *args], env, timeout)

    def python(self, *args: str, env: dict[str, str] | None = None, fabric: bool = False) -> Run:
        """Run `python ARGS` in the project, with corral's Python (or the Fabric venv's)."""
        python = sys.executable
        if fabric:
            assert self.fabric_venv is not None
            python = str(self.fabric_venv / "bin" / "python")
        return self._run([python, *args], env, 120)

    def files(self) -> dict[str, str]:
        """What the project wrote on the hosts: relative path -> content, or `-> target`."""
        base = self.fleet.home / self.root
        found: dict[str, str] = {}
        for path in sorted(base.rglob("*")) if base.exists() else []:
            name = str(path.relative_to(base))
            if path.is_symlink():
                found[name] = f"-> {os.readlink(path)}"
            elif path.is_file():
                found[name] = path.read_text(errors="replace")
        return found

    def clean(self) -> None:
        """Remove what the project wrote on the hosts (and their parent, once empty)."""
        where = self.fleet.home / self.root
        shutil.rmtree(where, ignore_errors=True)
        with contextlib.suppress(OSError):
            where.parent.rmdir()


@pytest.fixture
def bench(fleet: SSHDFleet, tmp_path: Path) -> Iterator[type[Bench]]:
    """Make Benches for this test: `bench(project, switched=...)`; cleaned up afterwards."""
    made: list[Bench] = []

    def make(project: str, *, switched: bool = False, fabric_venv: Path | None = None) -> Bench:
        where = tmp_path / f"{len(made)}-{'switched' if switched else 'as-is'}"
        where.mkdir()
        made.append(Bench(fleet, where, project, switched=switched, fabric_venv=fabric_venv))
        return made[-1]

    yield make  # type: ignore[misc]
    for each in made:
        each.clean()


def _build_venv(directory: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(directory)], check=True, timeout=300)
    pip = [str(directory / "bin" / "python"), "-m", "pip", "install", "-q"]
    subprocess.run(
        [*pip, f"fabric=={FABRIC_VERSION}"], check=True, timeout=600, capture_output=True
    )
    return directory


@pytest.fixture(scope="session")
def fabric_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with Fabric 3.2.3 (and no corral), built once per session."""
    given = os.environ.get("CORRAL_TEST_FABRIC_VENV")
    if given:
        return Path(given)
    directory = tmp_path_factory.mktemp("fabric-venv") / "venv"
    try:
        return _build_venv(directory)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        detail = getattr(exc, "stderr", None) or exc
        reason = f"cannot build a venv with fabric=={FABRIC_VERSION}: {detail}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def fabric_and_corral_venv(fabric_venv: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with Fabric 3.2.3 and corral (this worktree) both installed."""
    directory = tmp_path_factory.mktemp("fabric-corral-venv") / "venv"
    try:
        _build_venv(directory)
        subprocess.run(
            [str(directory / "bin" / "python"), "-m", "pip", "install", "-q", str(WORKTREE)],
            check=True,
            timeout=900,
            capture_output=True,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
        reason = f"cannot install fabric and corral in one venv: {getattr(exc, 'stderr', exc)}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    return directory
