"""Faults of the SSH server: kill or freeze the sshd processes serving a host's connections, a
bastion that dies mid-run, a strict sshd, a full disk. They work on any OpenSSH sshd of this
machine (a fleet's, or one you started), found through /proc by the address it serves: as root,
or as the user that runs it."""

from __future__ import annotations

import contextlib
import secrets
import shutil
import signal
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from ..fleet import Fleet, FleetHost, FleetUnavailable, SSHDFleet, TinyDisk, procfs, start_fleet
from ..fleet.base import Started

Target = FleetHost | tuple[str, int]  # a fleet's host, or (address, port)


def _endpoints(targets: Sequence[Target]) -> set[procfs.Endpoint]:
    if not targets:
        raise ValueError("name the hosts (FleetHost, or (address, port)) whose sessions to break")
    return {(t.address, t.port) if isinstance(t, FleetHost) else (t[0], t[1]) for t in targets}


def session_processes(*targets: Target) -> dict[int, int]:
    """The sshd processes serving the targets' connections -> their start times."""
    return procfs.sshd_sessions(procfs.proc_table(), _endpoints(targets))


def kill_sessions(*targets: Target, sig: int = signal.SIGKILL) -> int:
    """Send ``sig`` (default SIGKILL) to the sshd processes serving the targets' connections:
    the connections drop (FIN/RST) as if the server died; return how many were signalled.

    With SIGKILL, waits until they are gone. The commands the sessions ran keep running, as
    after a real crash of sshd. The listeners are spared: new connections are accepted.
    """
    procs = session_processes(*targets)
    if sig == signal.SIGSTOP:
        return procfs.freeze(procs)
    sent = procfs.send_signal(procs, sig)
    if sig == signal.SIGKILL:
        procfs.wait_gone(procs, 5.0)
    return sent


def freeze_sessions(*targets: Target) -> int:
    """Stop (SIGSTOP) the sshd processes of the targets' connections, and wait until they are
    stopped: TCP stays up, nothing answers, as with a hung host; return how many there were.
    Undo with ``thaw_sessions``, or use ``frozen``, which always does."""
    return kill_sessions(*targets, sig=signal.SIGSTOP)


def thaw_sessions(*targets: Target) -> int:
    """Continue (SIGCONT) the sshd processes of the targets' connections."""
    return kill_sessions(*targets, sig=signal.SIGCONT)


@contextlib.contextmanager
def frozen(*targets: Target) -> Iterator[int]:
    """Freeze the targets' sessions for the block (yield how many sshd processes stopped);
    thaw exactly those at the end, also when the block raises."""
    procs = session_processes(*targets)
    try:
        yield procfs.freeze(procs)
    finally:
        procfs.send_signal(procs, signal.SIGCONT)


def _sshd(fleet: Fleet, what: str) -> SSHDFleet:
    if not isinstance(fleet, SSHDFleet):
        raise FleetUnavailable(f"{what} needs a fleet of real sshd (SSHDFleet), not {fleet!r}")
    return fleet


@contextlib.contextmanager
def frozen_host(fleet: Fleet, host: FleetHost) -> Iterator[int]:
    """Freeze ``host`` entirely for the block: its sshd and its sessions, so new connections
    hang too (see `SSHDFleet.freeze_host`: the fleet needs ``hosts_per_sshd=1``); yield how many
    processes stopped; thaw them at the end, also when the block raises."""
    sshd = _sshd(fleet, "a frozen host")
    stopped = sshd.freeze_host(host)
    try:
        yield stopped
    finally:
        sshd.thaw_host(host)


def tiny_disk(fleet: Fleet, size: str = "1m", host: FleetHost | None = None) -> TinyDisk:
    """Start and return a host whose sessions see a tmpfs of ``size`` at ``disk.mount``
    (see `SSHDFleet.tiny_disk`); use it in a ``with`` block, or ``stop()`` it."""
    return _sshd(fleet, "a tiny disk").tiny_disk(size, host).start()


def strict_fleet(
    hosts: int = 1,
    *,
    max_startups: str | None = None,
    max_sessions: int | None = None,
    sshd_options: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> SSHDFleet:
    """Start and return a fleet of real sshd with tight limits: ``max_startups`` (sshd's
    MaxStartups, "start:rate:full", e.g. "1:100:1": unauthenticated connections beyond it are
    dropped) and ``max_sessions`` (MaxSessions: channels per connection)."""
    options = dict(sshd_options or {})
    if max_startups is not None:
        options["MaxStartups"] = max_startups
    if max_sessions is not None:
        options["MaxSessions"] = str(max_sessions)
    fleet = start_fleet(hosts, sshd_options=options, embedded_fallback=False, **kwargs)
    return _sshd(fleet, "a strict sshd")


class Bastion(Started):
    """A fleet host that the others are reached through (``ProxyJump``), and that can die.

    ``ssh_config_path`` reaches every target through the bastion (the fleet's aliases, the
    fleet's keys and known_hosts); ``kill()`` drops every connection to the bastion, and so
    every tunnel through it, as if it crashed. Start it (or use ``with``); ``stop()`` removes
    its files.
    """

    def __init__(self, fleet: SSHDFleet, host: FleetHost, targets: Sequence[FleetHost]) -> None:
        if host in targets:
            raise ValueError(f"the bastion {host.alias} cannot also be a target behind itself")
        self.fleet = fleet
        self.host = host
        self.targets = list(targets)
        self.directory = fleet.directory / f"bastion-{secrets.token_hex(4)}"
        self.ssh_config_path = self.directory / "ssh_config"

    def __repr__(self) -> str:
        return f"<Bastion {self.host.alias} in front of {len(self.targets)} hosts>"

    def start(self) -> Bastion:
        """Write the ssh_config that reaches the targets through the bastion; return self."""
        self.directory.mkdir(mode=0o755, exist_ok=True)
        aliases = " ".join(t.alias for t in self.targets)
        self.ssh_config_path.write_text(
            f"# corral fault kit: {aliases} through {self.host.alias}\n"
            f"Host {aliases}\n  ProxyJump {self.host.alias}\n\n"
            + self.fleet.ssh_config_path.read_text()
        )
        return self

    def kill(self) -> int:
        """Kill the bastion's sessions (every connection through it dies); return how many
        sshd processes were killed. The bastion accepts new connections afterwards."""
        return kill_sessions(self.host)

    def stop(self) -> None:
        """Remove the bastion's files; safe to call twice."""
        shutil.rmtree(self.directory, ignore_errors=True)


def dying_bastion(
    fleet: Fleet, bastion: FleetHost | None = None, targets: Sequence[FleetHost] | None = None
) -> Bastion:
    """Start and return a `Bastion`: ``bastion`` (default the fleet's first host) in front of
    ``targets`` (default every other host)."""
    sshd = _sshd(fleet, "a bastion that dies")
    host = bastion or sshd.hosts[0]
    behind = [h for h in sshd.hosts if h != host] if targets is None else list(targets)
    return Bastion(sshd, host, behind).start()
