"""`SSHDFleet`: a throwaway fleet of real OpenSSH sshd processes on loopback (needs root).

Host ``i`` (0-based) listens on ``127.X.(Y + i // 250).(i % 250 + 1)``, in a block leased for the
fleet's lifetime (``lease.py``); all hosts share one port; one sshd serves 16 addresses
(``listener.py``). ``stop()`` kills exactly what the fleet started: its listeners, every
per-connection sshd (found through /proc by socket and ancestry, ``procfs.py``) and every process
started in a fleet session (found by the ``CORRAL_FLEET=<token>`` variable sshd's ``SetEnv`` puts
in each session), even after a listener died or ``kill_sessions()`` orphaned them. It never
signals another sshd. Faults for tests: ``kill_sessions``, ``freeze_host``/``thaw_host``,
``tiny_disk`` (and :mod:`corral.testing.faults`).
"""

from __future__ import annotations

import atexit
import math
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path

from . import listener, procfs, users
from .base import FleetError, FleetHost, FleetUnavailable, Started
from .files import ENV_MARKER, check_sshd_options, write_fleet_files
from .lease import Lease, lease_block, pick_port
from .listener import MAX_LISTEN_SOCKS, Listener, spawn_all
from .tinydisk import TinyDisk

HOSTS_PER_OCTET = 250  # hosts use 127.X.Y.1 .. 127.X.Y.250, then roll into 127.X.(Y+1)
_USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_ALIAS_RE = re.compile(r"^[A-Za-z0-9_-]*$")


class SSHDFleet(Started):
    """A fleet of ``hosts`` SSH hosts served by real sshd processes on loopback (needs root).

    ``directory`` holds every file of the fleet (default: a new temporary directory, removed by
    ``stop()``). ``sshd_options`` adds or overrides sshd_config keywords (case-insensitive), e.g.
    ``{"MaxStartups": "2:100:2", "UnusedConnectionTimeout": "2"}``; a ``"Match"`` key is written
    last, as ``Match <value>`` (the value may hold the block's indented lines). ``start_timeout``
    bounds the wait for every address to listen (default 30 s, more for big fleets). One sshd
    serves ``hosts_per_sshd`` hosts (default and most 16); with 1, ``freeze_host`` can stop a
    host alone.
    """

    def __init__(
        self,
        hosts: int = 3,
        directory: str | Path | None = None,
        *,
        user: str = "corral-test",
        alias_prefix: str = "host",
        sshd_options: Mapping[str, str] | None = None,
        start_timeout: float | None = None,
        hosts_per_sshd: int = MAX_LISTEN_SOCKS,
    ) -> None:
        if not 1 <= hosts <= HOSTS_PER_OCTET * 64:
            raise ValueError(f"hosts must be between 1 and {HOSTS_PER_OCTET * 64}, not {hosts}")
        if not _USER_RE.match(user) or user in ("root", users.OTHER_USER):
            raise ValueError(f"unsuitable login user name {user!r}")
        if not 1 <= hosts_per_sshd <= MAX_LISTEN_SOCKS:
            raise ValueError(f"hosts_per_sshd must be 1 to {MAX_LISTEN_SOCKS}: {hosts_per_sshd!r}")
        if not _ALIAS_RE.match(alias_prefix):
            raise ValueError(f"alias_prefix must be letters, digits, '-' or '_': {alias_prefix!r}")
        self.sshd_options: dict[str, str] = check_sshd_options(sshd_options or {})
        self.host_count = hosts
        self.hosts_per_sshd = hosts_per_sshd
        self.user = user
        self.alias_prefix = alias_prefix
        self.start_timeout = start_timeout if start_timeout else max(30.0, hosts * 0.1)
        self._own_directory = directory is None
        self.directory = (
            Path(tempfile.mkdtemp(prefix="corral-fleet-"))
            if directory is None
            else Path(directory).absolute()
        )
        self.key_path = self.directory / "id"
        self.authorized_keys_path = self.directory / "authorized_keys"
        self.ssh_config_path = self.directory / "ssh_config"
        self.known_hosts_path = self.directory / "known_hosts"
        self.state_path = self.directory / "fleet.json"
        self.home = Path("/home") / user  # the real one is read from passwd by start()
        self.hosts: list[FleetHost] = []  # filled by start()
        self.port = 0
        self.password = ""
        self._token = ""
        self._listeners: list[Listener] = []
        self._disks: list[TinyDisk] = []
        self._lease: Lease | None = None
        self._password_claimed = False
        self._started = False
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        state = f"{len(self.hosts)} hosts on port {self.port}" if self._started else "stopped"
        return f"<SSHDFleet {state} in {self.directory}>"

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> SSHDFleet:
        """Start the fleet (a no-op when it already runs); return it."""
        with self._lock:
            if self._started:
                return self
            reason = listener.unavailable_reason()
            if reason is not None:
                self.stop()  # removes the directory made by __init__
                raise FleetUnavailable(f"cannot start a fleet of real sshd processes: {reason}")
            self._started = True
            atexit.register(self.stop)
            try:
                self._start()
            except BaseException:
                self._teardown(remove_directory=False)  # keep the logs for the error's reader
                raise
            return self

    def stop(self) -> None:
        """Stop every process of the fleet and wait for them to exit; safe to call twice."""
        with self._lock:
            if self._started:
                self._teardown(remove_directory=self._own_directory)
            elif self._own_directory:
                shutil.rmtree(self.directory, ignore_errors=True)

    def restart(self) -> None:
        """Stop the listeners and start them again on the same addresses, port and host keys.

        Like restarting a real sshd, connections that are open stay open (``stop()`` still
        ends them); use ``kill_sessions()`` first to drop them.
        """
        with self._lock:
            if not self._started:
                raise FleetError("restart() of a fleet that is not running")
            for ln in self._listeners:
                ln.stop()
            spawn_all(self._listeners, self.start_timeout)
            self._write_state()

    # ------------------------------------------------------------------ queries

    @property
    def host_strings(self) -> list[str]:
        """``user@address:port`` of every host."""
        return [h.host_string for h in self.hosts]

    def listener_pids(self) -> list[int]:
        """PIDs of the running sshd listeners (one per 16 hosts)."""
        return [ln.popen.pid for ln in self._listeners if ln.popen and ln.popen.poll() is None]

    def session_pids(self, host: FleetHost | None = None) -> list[int]:
        """PIDs of the live per-connection sshd processes serving ``host`` (or every host).

        Each connection has two or three (``sshd: USER [priv]``, ``sshd: USER@notty``, or the
        pre-auth ``[net]`` child); the commands they run are not included.
        """
        return sorted(self._sessions(procfs.proc_table(), host))

    def run_as_user(
        self, command: str, *, input: str | None = None, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run shell ``command`` on this machine as the login user, in a login shell (via
        runuser, or su), with ``input`` on stdin: for assertions such as "is the remote
        process gone". The shell running ``command`` has it in its own command line, so
        ``pgrep -f MARKER`` always finds that shell: use ``pgrep -f '[M]ARKER'`` or
        ``pgrep -fx 'WHOLE COMMAND LINE'``."""
        return users.run_as(self.user, command, input=input, timeout=timeout)

    def log_tail(self, lines: int = 12) -> str:
        """The last lines of every sshd log of the fleet (for error messages)."""
        return "\n".join(
            f"--- {ln.log.name}\n{procfs.tail(ln.log, lines)}" for ln in self._listeners
        )

    # ------------------------------------------------------------------ faults

    def kill_sessions(self, host: FleetHost | None = None, sig: int = signal.SIGKILL) -> int:
        """Send ``sig`` to the per-connection sshd processes of ``host`` (or every host), as if
        the server dropped those connections; return how many processes were signalled.

        With SIGKILL, waits until they are gone. The commands the sessions ran keep running
        (as after a real network drop); ``stop()`` ends them.
        """
        procs = self._sessions(procfs.proc_table(), host)
        if sig == signal.SIGSTOP:
            return procfs.freeze(procs)
        sent = procfs.send_signal(procs, sig)
        if sig == signal.SIGKILL:
            procfs.wait_gone(procs, 5.0)
        return sent

    def freeze_host(self, host: FleetHost) -> int:
        """Stop (SIGSTOP) the sshd serving ``host`` and its sessions: the host hangs, for new
        connections too (the kernel accepts TCP, no banner comes); return how many processes
        were stopped. The host needs an sshd of its own: start the fleet with
        ``hosts_per_sshd=1``. (To freeze only open connections: ``faults.freeze_sessions``.)"""
        return procfs.freeze(self._host_processes(host))

    def thaw_host(self, host: FleetHost) -> int:
        """Continue (SIGCONT) the sshd serving ``host`` and its sessions."""
        return procfs.send_signal(self._host_processes(host), signal.SIGCONT)

    def tiny_disk(
        self, size: str = "1m", host: FleetHost | None = None, alias: str | None = None
    ) -> TinyDisk:
        """A host whose sessions see a tiny tmpfs (``size``, e.g. "1m") at ``disk.mount``: a
        second sshd on ``host``'s address (default the first host), another port, in a private
        mount namespace. Use it as a context manager (it starts on entry, stops on exit); the
        fleet's ``stop()`` stops it too. Connect with ``disk.ssh_config_path`` and
        ``disk.alias`` (default ``<host alias>-full``)."""
        if not self._started:
            raise FleetError("tiny_disk() of a fleet that is not running")
        target = host or self.hosts[0]
        serving = next(ln for ln in self._listeners if target in ln.hosts)
        disk = TinyDisk(
            size=size,
            host=target,
            alias=alias or f"{target.alias}-full",
            hostkey=serving.hostkey,
            key_path=self.key_path,
            authorized_keys=self.authorized_keys_path,
            sshd_options=self.sshd_options,
            marker=f"{ENV_MARKER}={self._token}",
            fleet_ssh_config=self.ssh_config_path,
            directory=self.directory,
        )
        self._disks.append(disk)
        return disk

    # ------------------------------------------------------------------ start

    def _start(self) -> None:
        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o755)  # sshd reads authorized_keys as the login user
        self._check_reachable(d)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir

        self.home = users.prepare_login_user(self.user)
        self._token = secrets.token_hex(8)
        self.password = users.claim_password(self.user, self._token)
        self._password_claimed = True

        n = self.host_count
        x, y, self._lease = lease_block(
            math.ceil(n / HOSTS_PER_OCTET), f"pid {os.getpid()} fleet {d}\n"
        )
        addresses = [
            f"127.{x}.{y + i // HOSTS_PER_OCTET}.{i % HOSTS_PER_OCTET + 1}" for i in range(n)
        ]
        self.port = pick_port(addresses)
        self.hosts = [
            FleetHost(f"{self.alias_prefix}{i + 1}", a, self.port, self.user)
            for i, a in enumerate(addresses)
        ]
        self._listeners = [
            Listener(
                index=k,
                hosts=self.hosts[j : j + self.hosts_per_sshd],
                conf=d / f"sshd_{k}.conf",
                log=d / f"sshd_{k}.log",
                pidfile=d / f"sshd_{k}.pid",
                hostkey=d / f"hostkey_{k}",
            )
            for k, j in enumerate(range(0, n, self.hosts_per_sshd))
        ]

        write_fleet_files(
            self._listeners,
            client_key=self.key_path,
            authorized_keys=self.authorized_keys_path,
            ssh_config=self.ssh_config_path,
            known_hosts=self.known_hosts_path,
            options=self.sshd_options,
            marker=f"{ENV_MARKER}={self._token}",
        )
        spawn_all(self._listeners, self.start_timeout)
        self._write_state()

    def _check_reachable(self, d: Path) -> None:
        for parent in [d, *d.parents]:
            if not parent.stat().st_mode & 0o001:
                raise FleetError(
                    f"{parent} is not searchable by other users, so sshd (running as "
                    f"{self.user}) could not read {d}/authorized_keys: use another directory"
                )

    def _write_state(self) -> None:
        state = {
            "directory": str(self.directory),
            "owner_pid": os.getpid(),
            "user": self.user,
            "password": self.password,
            "home": str(self.home),
            "port": self.port,
            "env_marker": f"{ENV_MARKER}={self._token}",
            "hosts": [vars(h) for h in self.hosts],
            "processes": [ln.state() for ln in self._listeners],
        }
        users.write_private(self.state_path, state)

    # ------------------------------------------------------------------ processes and stop

    def _sessions(self, table: Mapping[int, procfs.Stat], host: FleetHost | None) -> dict[int, int]:
        """Per-connection sshd processes -> start time: every sshd process holding a connected
        TCP socket on a fleet address (of ``host``), plus (for all hosts) the listeners'
        sshd children and their sshd descendants."""
        listeners = set(self.listener_pids())
        wanted = {(h.address, h.port) for h in self.hosts if host is None or h == host}
        found = set(procfs.sshd_sessions(table, wanted, exclude=listeners))
        if host is None:
            children = {pid for pid, st in table.items() if st.ppid in listeners}
            found |= children | procfs.descendants(table, children)
        return procfs.only_sshd(table, found, exclude=listeners)

    def _host_processes(self, host: FleetHost) -> dict[int, int]:
        """The sshd serving ``host`` alone, and its sessions -> their start times."""
        serving = next(ln for ln in self._listeners if host in ln.hosts)
        if len(serving.hosts) > 1 or serving.popen is None:
            raise FleetError(
                f"{host.alias} shares its sshd with {len(serving.hosts) - 1} other hosts: start "
                "the fleet with hosts_per_sshd=1 to stop one host alone"
            )
        table = procfs.proc_table()
        procs = self._sessions(table, host)
        procs.update(procfs.only_sshd(table, [serving.popen.pid]))
        return procs

    def _all_processes(self) -> dict[int, int]:
        """Every process of the fleet except its listeners: sessions, what they run, and
        processes started in a session that outlived it. Never this process or its parents."""
        table = procfs.proc_table()
        listeners = set(self.listener_pids())
        marked = procfs.marked(table, f"{ENV_MARKER}={self._token}")
        roots = set(self._sessions(table, None)) | marked | listeners
        found = (roots | procfs.descendants(table, roots)) - listeners
        found -= procfs.ancestors(table, os.getpid())
        return {
            pid: table[pid].start
            for pid in found
            if pid in table and table[pid].state not in ("Z", "X")
        }

    def _teardown(self, remove_directory: bool) -> None:
        survivors: list[int] = []
        try:
            while self._disks:
                self._disks.pop().stop()
            # sessions first, while their listeners still run and reap them; then the
            # listeners; then whatever slipped through (a connection accepted meanwhile, a
            # process a session started): found by socket and by environment marker
            if self._token:
                procs = self._all_processes()
                procfs.send_signal(procs, signal.SIGKILL)
                survivors = procfs.wait_gone(procs, 5.0)
            for ln in self._listeners:
                ln.stop()
            for _ in range(3 if self._token else 0):
                procs = self._all_processes()
                if not procs:
                    survivors = []
                    break
                procfs.send_signal(procs, signal.SIGKILL)
                survivors = procfs.wait_gone(procs, 5.0)
        finally:
            if self._lease is not None:
                self._lease.release()
                self._lease = None
            if self._password_claimed:
                users.release_password(self.user, self._token)
                self._password_claimed = False
            self._started = False
            atexit.unregister(self.stop)
            if remove_directory:
                shutil.rmtree(self.directory, ignore_errors=True)
            else:
                self.state_path.unlink(missing_ok=True)
        if survivors:
            raise FleetError(f"fleet processes did not exit after SIGKILL: {survivors}")
