"""`EmbeddedFleet`: the test process's handle on the embedded server. It starts the server as a
child process, waits for its ``ready`` file, and stops it (and every command it ran)."""

from __future__ import annotations

import atexit
import contextlib
import getpass
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from ..base import FleetHost, Started
from .common import LOG_FILE, MAX_HOSTS, PASSWORD_ENV, READY_FILE, tail


class EmbeddedFleet(Started):
    """A fleet of loopback SSH hosts served by one embedded asyncssh server process.

    ::

        with EmbeddedFleet(hosts=3) as fleet:
            ...  # fleet.hosts, fleet.ssh_config_path, fleet.known_hosts_path, fleet.key_path
    """

    start_timeout = 30.0
    stop_timeout = 10.0

    directory: Path
    hosts: list[FleetHost]
    user: str
    password: str
    key_path: Path
    ssh_config_path: Path
    known_hosts_path: Path
    home: Path

    def __init__(
        self, hosts: int = 3, directory: str | Path | None = None, *, alias_prefix: str = "host"
    ) -> None:
        if not 1 <= hosts <= MAX_HOSTS:
            raise ValueError(f"hosts must be between 1 and {MAX_HOSTS}, not {hosts}")
        self._count = hosts
        self._requested_directory = None if directory is None else Path(directory)
        self._alias_prefix = alias_prefix
        self._proc: subprocess.Popen[bytes] | None = None
        self._owns_directory = False
        self.hosts = []
        self.user = getpass.getuser()
        self.password = ""
        self.home = Path.home()

    @property
    def host_strings(self) -> list[str]:
        """``user@address:port`` for every host."""
        return [f"{h.user}@{h.address}:{h.port}" for h in self.hosts]

    @property
    def pid(self) -> int | None:
        """Process id of the server process while it runs."""
        return None if self._proc is None else self._proc.pid

    def start(self) -> EmbeddedFleet:
        """Start the server process and wait until every host accepts connections."""
        if self._proc is not None:
            raise RuntimeError("embedded fleet already started")
        if self._requested_directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="corral-fleet-"))
            self._owns_directory = True
        else:
            self.directory = self._requested_directory.resolve()
            self.directory.mkdir(parents=True, exist_ok=True)
        ready_path = self.directory / READY_FILE
        ready_path.unlink(missing_ok=True)
        self.password = secrets.token_urlsafe(18)
        self.user = getpass.getuser()
        self.home = Path.home()
        self.key_path = self.directory / "id"
        self.ssh_config_path = self.directory / "ssh_config"
        self.known_hosts_path = self.directory / "known_hosts"

        env = dict(os.environ)
        env[PASSWORD_ENV] = self.password
        # make corral importable in the child: the directory above the `corral` package
        src = str(Path(__file__).resolve().parents[len(__name__.split(".")) - 1])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
        command = [
            sys.executable,
            "-m",
            "corral.testing.fleet.embedded",
            "--directory",
            str(self.directory),
            "--hosts",
            str(self._count),
            "--alias-prefix",
            self._alias_prefix,
            "--exit-on-stdin-eof",
        ]
        log_path = self.directory / LOG_FILE
        with open(log_path, "wb") as log:
            self._proc = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=log,
                stderr=log,
                env=env,
                cwd=self.directory,
                start_new_session=True,
            )
        atexit.register(self.stop)
        try:
            info = self._wait_ready(ready_path, log_path)
        except BaseException:
            self.stop()
            raise
        self.hosts = [
            FleetHost(h["alias"], h["address"], int(h["port"]), h["user"]) for h in info["hosts"]
        ]
        return self

    def _wait_ready(self, ready_path: Path, log_path: Path) -> dict[str, Any]:
        assert self._proc is not None
        deadline = time.monotonic() + self.start_timeout
        while True:
            if ready_path.exists():
                info: dict[str, Any] = json.loads(ready_path.read_text())
                return info
            code = self._proc.poll()
            if code is not None:
                raise RuntimeError(
                    f"embedded SSH server exited with status {code} before it was ready:\n"
                    + tail(log_path)
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"embedded SSH server not ready after {self.start_timeout:.0f} s:\n"
                    + tail(log_path)
                )
            time.sleep(0.02)

    def run_as_user(
        self, command: str, *, input: str | None = None, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run a shell command locally as the fleet's user (the current user)."""
        return subprocess.run(
            ["/bin/sh", "-c", command],
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def stop(self) -> None:
        """Stop the server and every command it ran; wait for them. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            atexit.unregister(self.stop)
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(signal.SIGTERM)
            stdin: IO[bytes] | None = proc.stdin
            if stdin is not None:
                with contextlib.suppress(OSError):
                    stdin.close()
            try:
                proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if self._owns_directory:
            self._owns_directory = False
            shutil.rmtree(self.directory, ignore_errors=True)

    def __repr__(self) -> str:
        state = "running" if self._proc is not None else "stopped"
        return f"<EmbeddedFleet {len(self.hosts) or self._count} hosts, {state}>"
