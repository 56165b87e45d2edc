"""What the embedded fleet's two sides agree on: the controller (`EmbeddedFleet`, in the test
process) and the server (``python -m corral.testing.fleet.embedded``, a child process)."""

from __future__ import annotations

import os
from pathlib import Path

PASSWORD_ENV = "CORRAL_EMBEDDED_FLEET_PASSWORD"
"""Environment variable through which :class:`EmbeddedFleet` hands the password to the child."""

READY_FILE = "ready"
LOG_FILE = "server.log"
MAX_HOSTS = 250 * 254


def host_address(prefix: int, index: int) -> str:
    """Address of host number ``index`` (0-based): 127.prefix.Y.Z with Z in 1..254."""
    return f"127.{prefix}.{index // 254}.{index % 254 + 1}"


def write_file(path: Path, data: bytes | str, mode: int = 0o644) -> None:
    """Write a file atomically (temp file + rename) with the given permissions."""
    raw = data.encode() if isinstance(data, str) else data
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, raw)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def tail(path: Path, limit: int = 4000) -> str:
    """Return the end of the server's log (for error messages)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no server log)"
    return text[-limit:] or "(server log is empty)"
