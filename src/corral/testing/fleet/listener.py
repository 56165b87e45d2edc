"""The sshd listener processes of a fleet: one per 16 hosts (sshd's ``MAX_LISTEN_SOCKS``),
started all at once and waited for until every address listens; stopped by their own handles."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .base import FleetError, FleetHost
from .procfs import SSHD, listening, tail

MAX_LISTEN_SOCKS = 16  # sshd.c: #define MAX_LISTEN_SOCKS 16 (the 17th ListenAddress is fatal)
SSHD_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}


def unavailable_reason() -> str | None:
    """Why a fleet of real sshd processes cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "it needs root (to run sshd and create the test users), and this is not root"
    if not os.access(SSHD, os.X_OK):
        return f"OpenSSH's sshd is not installed at {SSHD} (Debian: apt-get install openssh-server)"
    missing = [t for t in ("ssh-keygen", "useradd", "chpasswd", "visudo") if not shutil.which(t)]
    if missing:
        return f"missing tools: {', '.join(missing)}"
    return None


@dataclass
class Listener:
    """One sshd listener process and its files."""

    index: int
    hosts: list[FleetHost]
    conf: Path
    log: Path
    pidfile: Path
    hostkey: Path
    popen: subprocess.Popen[bytes] | None = None

    def spawn(self) -> None:
        """Start ``sshd -D -f CONF -E LOG`` in its own session."""
        self.pidfile.unlink(missing_ok=True)
        self.popen = subprocess.Popen(
            [SSHD, "-D", "-f", str(self.conf), "-E", str(self.log)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=SSHD_ENV,
            start_new_session=True,  # not hit by signals sent to the test runner's group
        )

    def state(self) -> dict[str, object]:
        """Return what the fleet's state file records about this listener."""
        return {
            "pid": self.popen.pid if self.popen else None,
            "conf": str(self.conf),
            "log": str(self.log),
            "pidfile": str(self.pidfile),
            "hostkey": str(self.hostkey),
            "hosts": [h.alias for h in self.hosts],
        }

    def stop(self) -> None:
        """Stop the process (TERM, then KILL after 5 s) and wait for it."""
        if self.popen is None:
            return
        if self.popen.poll() is None:
            self.popen.terminate()
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.popen.pid, signal.SIGCONT)  # in case a test stopped it
            try:
                self.popen.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self.popen = None
        self.pidfile.unlink(missing_ok=True)


def spawn_all(listeners: Sequence[Listener], timeout: float) -> None:
    """Start every listener (all at once) and wait until all their addresses listen."""
    for ln in listeners:
        ln.spawn()
    want = {(h.address, h.port) for ln in listeners for h in ln.hosts}
    deadline = time.monotonic() + timeout
    while True:
        up = listening(want)
        if len(up) == len(want):
            return
        dead = [ln for ln in listeners if ln.popen and ln.popen.poll() is not None]
        if dead or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    bad = dead or [ln for ln in listeners if {(h.address, h.port) for h in ln.hosts} - up]
    why = (
        "; ".join(
            f"sshd_{ln.index} exited with status {ln.popen.returncode}" for ln in dead if ln.popen
        )
        or f"timed out after {timeout:g} s"
    )
    logs = "\n".join(f"--- {ln.log}\n{tail(ln.log)}" for ln in bad[:3])
    port = listeners[0].hosts[0].port
    raise FleetError(
        f"{len(want) - len(up)} of {len(want)} fleet addresses did not start listening on "
        f"port {port} ({why}). sshd log:\n{logs}"
    )
