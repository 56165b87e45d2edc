"""`TinyDisk`: a fleet host whose sessions see a tiny tmpfs, for tests of a full disk.

A second sshd, with the fleet's settings and the host's key, listens on the host's address on
another port, inside a private mount namespace where a tmpfs of the given size is mounted on
``mount`` (``unshare -m --propagation private``): only that sshd's sessions see the small
filesystem, nothing leaks to the machine, and no firewall or loop device is needed.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

from . import procfs
from .base import FleetError, FleetHost
from .files import known_hosts_text, quote, sshd_config_text
from .lease import pick_port
from .listener import SSHD_ENV

START_TIMEOUT = 10.0  # seconds for the tiny disk's sshd to listen


class TinyDisk:
    """A host whose sessions see a tmpfs of ``size`` at ``mount`` (start it, or use ``with``).

    Connect with ``Config(overrides={"ssh_config_path": str(disk.ssh_config_path)})`` to
    ``disk.alias``; that ssh_config also has every host of the fleet. ``disk.host`` is the
    host (its address, the tiny disk's port, the user).
    """

    def __init__(
        self,
        *,
        size: str,
        host: FleetHost,
        alias: str,
        hostkey: Path,
        key_path: Path,
        authorized_keys: Path,
        sshd_options: Mapping[str, str],
        marker: str,
        fleet_ssh_config: Path,
        directory: Path,
    ) -> None:
        if not re.fullmatch(r"[1-9][0-9]*[kmg]?", size):
            raise ValueError(f"tiny disk size must look like 64k, 1m or 2g, not {size!r}")
        self.size = size
        self.alias = alias
        self.host = host  # the port is the tiny disk's own once started
        self._hostkey, self._key_path, self._authorized_keys = hostkey, key_path, authorized_keys
        self._options, self._marker, self._fleet_ssh_config = sshd_options, marker, fleet_ssh_config
        self.directory = directory / f"tinydisk-{secrets.token_hex(4)}"
        self.mount = self.directory / "disk"  # the tmpfs, as the host's sessions see it
        self.ssh_config_path = self.directory / "ssh_config"
        self.known_hosts_path = self.directory / "known_hosts"
        self._log = self.directory / "sshd.log"
        self._popen: subprocess.Popen[bytes] | None = None
        self._namespace: str | None = None

    @property
    def pid(self) -> int | None:
        """The tiny disk's sshd listener while it runs (in its own mount namespace)."""
        return None if self._popen is None else self._popen.pid

    def __repr__(self) -> str:
        state = "running" if self._popen is not None else "stopped"
        return f"<TinyDisk {self.size} at {self.alias}:{self.mount} ({state})>"

    def start(self) -> TinyDisk:
        """Start the tiny disk's sshd and wait until it listens; return self."""
        if self._popen is not None:
            return self
        self.mount.mkdir(mode=0o755, parents=True)
        self.directory.chmod(0o755)
        port = pick_port([self.host.address])
        self.host = FleetHost(self.alias, self.host.address, port, self.host.user)
        conf = self.directory / "sshd.conf"
        conf.write_text(
            sshd_config_text(
                title=f"corral tiny disk: {self.size} tmpfs at {self.mount}",
                listen=[(self.host.address, port)],
                hostkey=self._hostkey,
                pidfile=self.directory / "sshd.pid",
                authorized_keys=self._authorized_keys,
                options=self._options,
                marker=self._marker,
            )
        )
        script = (
            f"mount -t tmpfs -o size={self.size},mode=1777 corral-tiny-disk "
            f"{shlex.quote(str(self.mount))} && "
            f"exec {procfs.SSHD} -D -f {shlex.quote(str(conf))} -E {shlex.quote(str(self._log))}"
        )
        with self._log.open("ab") as log:  # mount's complaints, before sshd's own -E log
            self._popen = subprocess.Popen(
                ["unshare", "-m", "--propagation", "private", "sh", "-c", script],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log,
                env=SSHD_ENV,
                start_new_session=True,
            )
        try:
            self._wait_listening(port)
        except BaseException:
            self.stop()
            raise
        self.known_hosts_path.write_text(known_hosts_text([(self._hostkey, [self.host])]))
        self.ssh_config_path.write_text(
            f"Host {self.alias}\n  HostName {self.host.address}\n  Port {port}\n"
            f"  User {self.host.user}\n  IdentityFile {quote(self._key_path)}\n"
            f"  IdentitiesOnly yes\n  UserKnownHostsFile {quote(self.known_hosts_path)}\n"
            "  StrictHostKeyChecking yes\n\n" + self._fleet_ssh_config.read_text()
        )
        return self

    def _wait_listening(self, port: int) -> None:
        assert self._popen is not None
        deadline = time.monotonic() + START_TIMEOUT
        while not procfs.listening({(self.host.address, port)}):
            if self._popen.poll() is not None or time.monotonic() > deadline:
                why = (
                    f"exited with status {self._popen.returncode}"
                    if self._popen.poll() is not None
                    else f"not listening after {START_TIMEOUT:g} s"
                )
                raise FleetError(
                    f"the tiny disk's sshd on {self.host.address}:{port} {why}:\n"
                    + procfs.tail(self._log)
                )
            time.sleep(0.02)
        namespace = procfs.mount_namespace(self._popen.pid)
        if namespace is None or namespace == procfs.mount_namespace(os.getpid()):
            # stop() kills every process of the namespace: never the machine's own
            raise FleetError("the tiny disk's sshd is not in a mount namespace of its own")
        self._namespace = namespace

    def stop(self) -> None:
        """Kill the tiny disk's sshd, its sessions and what they run; remove its files.

        Every process in its private mount namespace goes, so the tmpfs goes with them.
        Safe to call twice.
        """
        popen, self._popen = self._popen, None
        if popen is None:
            return
        if self._namespace is not None:
            procs = procfs.in_mount_namespace(procfs.proc_table(), self._namespace)
            procfs.send_signal(procs, signal.SIGKILL)
            procfs.wait_gone(procs, 5.0)
        if popen.poll() is None:
            popen.kill()
        popen.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> TinyDisk:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
