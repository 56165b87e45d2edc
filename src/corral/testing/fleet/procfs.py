"""The process table and TCP sockets as /proc shows them: how a fleet finds the sshd processes
serving an address (to stop them, or to break them on purpose) without trusting pid files."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import time
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import NamedTuple

SSHD = "/usr/sbin/sshd"
LISTEN = "0A"  # the state column of /proc/net/tcp for a listening socket

Endpoint = tuple[str, int]  # (address, port)
_WILDCARDS = ("0.0.0.0", "::")


class Stat(NamedTuple):
    """The fields of /proc/PID/stat a fleet needs."""

    ppid: int
    start: int  # start time in clock ticks since boot: (pid, start) names one process
    comm: str
    state: str


class Sock(NamedTuple):
    """One line of /proc/net/tcp (or tcp6)."""

    local: str
    lport: int
    remote: str
    rport: int
    state: str  # "0A" = LISTEN
    inode: int
    tx_queue: int
    rx_queue: int  # for a listening socket: the connections waiting in its accept queue


def read_stat(pid: int) -> Stat | None:
    """Return the stat fields of ``pid``, or None when it is gone."""
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes().decode(errors="replace")
        comm = data[data.index("(") + 1 : data.rindex(")")]
        fields = data[data.rindex(")") + 2 :].split()
        return Stat(int(fields[1]), int(fields[19]), comm, fields[0])
    except (OSError, ValueError, IndexError):
        return None


def proc_table() -> dict[int, Stat]:
    """Return every process's stat fields, by pid."""
    table: dict[int, Stat] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = read_stat(int(name))
            if st is not None:
                table[int(name)] = st
    return table


def alive(pid: int, start: int) -> bool:
    """Return True while the process (pid, start time) runs and is not a zombie."""
    st = read_stat(pid)
    return st is not None and st.start == start and st.state not in ("Z", "X")


def descendants(table: Mapping[int, Stat], roots: Collection[int]) -> set[int]:
    """Return the pids of every descendant of ``roots`` (not the roots themselves)."""
    children: dict[int, list[int]] = {}
    for pid, st in table.items():
        children.setdefault(st.ppid, []).append(pid)
    out: set[int] = set()
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in out:
                out.add(child)
                todo.append(child)
    return out


def ancestors(table: Mapping[int, Stat], pid: int) -> set[int]:
    """Return ``pid`` and the pids of its ancestors."""
    out = {pid}
    while pid in table and table[pid].ppid not in out and table[pid].ppid > 0:
        pid = table[pid].ppid
        out.add(pid)
    return out


def _hex_to_ip(hexaddr: str) -> str:
    raw = bytes.fromhex(hexaddr)
    if len(raw) == 4:
        return socket.inet_ntoa(raw[::-1])
    # IPv6: four 32-bit words, each in host (little-endian) byte order
    words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
    if words[:12] == b"\0" * 10 + b"\xff\xff":
        return socket.inet_ntoa(words[12:])  # v4-mapped
    return socket.inet_ntop(socket.AF_INET6, words)


def tcp_sockets(v6: bool = False) -> list[Sock]:
    """Return every TCP socket of this machine's network namespace."""
    out: list[Sock] = []
    try:
        lines = Path("/proc/net/tcp6" if v6 else "/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return out
    for line in lines:
        f = line.split()
        if len(f) < 10:
            continue
        (la, lp), (ra, rp) = f[1].split(":"), f[2].split(":")
        tx, rx = f[4].split(":")
        out.append(
            Sock(
                _hex_to_ip(la), int(lp, 16), _hex_to_ip(ra), int(rp, 16), f[3], int(f[9]),
                int(tx, 16), int(rx, 16),
            )
        )  # fmt: skip
    return out


def listening(want: set[Endpoint]) -> set[Endpoint]:
    """Return the endpoints of ``want`` with a LISTEN socket (read, never connected to: a
    probe connection would make sshd fork, and show up in its log)."""
    return {(s.local, s.lport) for s in tcp_sockets() if s.state == LISTEN} & want


def socket_inodes(pid: int) -> set[int]:
    """Return the inodes of the sockets ``pid`` holds open."""
    out: set[int] = set()
    try:
        names = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return out
    for name in names:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{name}")
        except OSError:
            continue
        if target.startswith("socket:["):
            out.add(int(target[8:-1]))
    return out


def is_sshd(pid: int) -> bool:
    """Return True when ``pid`` runs OpenSSH's sshd binary."""
    try:
        return os.readlink(f"/proc/{pid}/exe") == SSHD
    except OSError:
        return False


def sshd_sessions(
    table: Mapping[int, Stat], endpoints: Collection[Endpoint], exclude: Collection[int] = ()
) -> dict[int, int]:
    """Per-connection sshd processes serving ``endpoints`` -> their start times.

    They are the sshd processes holding a connected TCP socket whose local end is one of the
    endpoints, and their sshd descendants; the commands the sessions run are not included,
    nor the listeners (processes in ``exclude``, or holding a listening socket on the
    endpoints' ports, even for an instant between accept and fork).
    """
    wanted = set(endpoints)
    ports = {port for _address, port in wanted}
    listening_on = {(a, p) for a, p in wanted} | {(w, p) for p in ports for w in _WILDCARDS}
    connected: set[int] = set()
    listen: set[int] = set()
    for s in tcp_sockets() + tcp_sockets(v6=True):
        if s.state == LISTEN and (s.local, s.lport) in listening_on:
            listen.add(s.inode)
        elif s.state != LISTEN and s.inode and (s.local, s.lport) in wanted:
            connected.add(s.inode)
    roots: set[int] = set()
    listeners = set(exclude)
    if connected:
        for pid, st in table.items():
            if st.comm != "sshd" or pid in listeners or not is_sshd(pid):
                continue
            inodes = socket_inodes(pid)
            if inodes & listen:
                listeners.add(pid)
            elif inodes & connected:
                roots.add(pid)
    return only_sshd(table, roots | descendants(table, roots), listeners)


def only_sshd(
    table: Mapping[int, Stat], pids: Collection[int], exclude: Collection[int] = ()
) -> dict[int, int]:
    """Return the live sshd processes among ``pids`` (not in ``exclude``) -> start times."""
    return {
        pid: table[pid].start
        for pid in pids
        if pid not in exclude
        and pid in table
        and table[pid].comm == "sshd"
        and table[pid].state not in ("Z", "X")
        and is_sshd(pid)
    }


def marked(table: Mapping[int, Stat], variable: str) -> set[int]:
    """Return the processes whose environment holds ``variable`` (``NAME=value``)."""
    needle = f"\0{variable}\0".encode()
    out: set[int] = set()
    for pid in table:
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes()
        except OSError:
            continue
        if needle in b"\0" + env + b"\0":
            out.add(pid)
    return out


def mount_namespace(pid: int) -> str | None:
    """Return the mount namespace of ``pid`` (e.g. ``mnt:[4026531841]``), None when gone."""
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def in_mount_namespace(table: Mapping[int, Stat], namespace: str) -> dict[int, int]:
    """Return the live processes in ``namespace`` -> their start times."""
    return {
        pid: st.start
        for pid, st in table.items()
        if st.state not in ("Z", "X") and mount_namespace(pid) == namespace
    }


def send_signal(procs: Mapping[int, int], sig: int) -> int:
    """Send ``sig`` to each (pid, start time) that is still that process, oldest (parents)
    first; return how many were running. All are checked before any is signalled: a session's
    sshd pair can die of the other's death within microseconds, and still counts."""
    targets = sorted((start, pid) for pid, start in procs.items() if alive(pid, start))
    for _start, pid in targets:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    return len(targets)


def wait_stopped(procs: Mapping[int, int], timeout: float) -> list[int]:
    """Wait until every process is stopped (SIGSTOP lands asynchronously) or gone; return
    those still running."""
    deadline = time.monotonic() + timeout
    while True:
        left = [
            pid
            for pid, start in procs.items()
            if alive(pid, start) and (st := read_stat(pid)) is not None and st.state != "T"
        ]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.005)


def freeze(procs: Mapping[int, int]) -> int:
    """SIGSTOP the processes and wait until they are stopped; return how many were running."""
    sent = send_signal(procs, signal.SIGSTOP)
    wait_stopped(procs, 5.0)
    return sent


def wait_gone(procs: Mapping[int, int], timeout: float) -> list[int]:
    """Wait until none of the processes runs (zombies count as gone); return the survivors."""
    deadline = time.monotonic() + timeout
    while True:
        left = [pid for pid, start in procs.items() if alive(pid, start)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.01)


def tail(path: Path, lines: int = 12) -> str:
    """Return the last lines of a log file (for error messages)."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"
