"""A throwaway fleet of real OpenSSH sshd processes on loopback, for tests and demos.

```python
from corral.testing.fleet import start_fleet

with start_fleet(3) as fleet:          # 3 hosts: host1..host3 on 127.X.Y.1..3, one port
    fleet.ssh_config_path              # ssh -F <this> host1 ...   (host key checking stays on)
    fleet.host_strings                 # ["corral-test@127.X.Y.1:PORT", ...]
    fleet.kill_sessions(fleet.hosts[0])  # the server drops every connection to host1
```

Layout. Host ``i`` (0-based) listens on ``127.X.(Y + i // 250).(i % 250 + 1)``, where the block
``127.X.Y`` (X in 100..250) is picked at random among blocks no socket uses, and leased with a
lock file in ``/run/corral-fleet`` for the fleet's lifetime, so two fleets (in one process or
several) never share an address. All hosts share one port. One sshd serves at most 16 addresses
(sshd's ``MAX_LISTEN_SOCKS``; the 17th ``ListenAddress`` is fatal), so N hosts take ceil(N/16)
sshd processes, each with its own ed25519 host key.

Files in ``fleet.directory``: ``id``/``id.pub`` (client key), ``authorized_keys``,
``ssh_config`` (one ``Host`` block per host), ``known_hosts`` (the real host key of every
address), ``sshd_K.conf``/``.log``/``.pid``, ``hostkey_K``, ``fleet.json`` (state, mode 0600).
A directory the fleet created itself (the default) is removed by ``stop()``; pass ``directory``
to keep the logs.

Users. The login user (default ``corral-test``) is created if missing, gets plain, silent shell
rc files, a random password (``fleet.password``) and sudo rights that require that password;
a second user ``corral-other`` (no sudo, no login) exists as a ``sudo -u`` target. Running fleets
that share a user, in any process, share its password (setting a new one would break the others);
the current password and its holders are kept root-only in ``/run/corral-fleet/USER.password.json``.
Users and the sudoers file are left in place by ``stop()``.

Processes. sshd runs as ``/usr/sbin/sshd -D -f CONF -E LOG`` in its own session. ``stop()``
kills exactly what the fleet started: its listeners, every per-connection sshd process (found as
descendants of the listeners and as holders of a TCP socket on a fleet address) and every process
started in a fleet session (found by the ``CORRAL_FLEET=<token>`` variable that sshd's ``SetEnv``
puts in each session's environment), even after a listener died or ``kill_sessions()`` orphaned
them. It never signals another sshd.

Standard library only; needs root and OpenSSH's sshd. ``start_fleet()`` raises
:class:`FleetUnavailable` (with the reason) where that is not possible.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import math
import os
import pwd
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, Protocol

__all__ = [
    "MAX_LISTEN_SOCKS",
    "OTHER_USER",
    "Fleet",
    "FleetError",
    "FleetHost",
    "FleetUnavailable",
    "SSHDFleet",
    "sshd_available",
    "start_fleet",
]

SSHD = "/usr/sbin/sshd"
MAX_LISTEN_SOCKS = 16  # sshd.c: #define MAX_LISTEN_SOCKS 16 (the 17th ListenAddress is fatal)
HOSTS_PER_OCTET = 250  # hosts use 127.X.Y.1 .. 127.X.Y.250, then roll into 127.X.(Y+1)
OTHER_USER = "corral-other"  # unprivileged user without sudo: a target for `sudo -u`
LOCK_DIR = Path("/run/corral-fleet")  # address-block leases and the user-setup lock
ENV_MARKER = "CORRAL_FLEET"  # SetEnv'd into every session: how stop() finds orphaned processes

_USER_RE = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")
_ALIAS_RE = re.compile(r"^[A-Za-z0-9_-]*$")
_MANAGED_OPTIONS = {"listenaddress", "pidfile", "hostkey"}
_DEFAULT_OPTIONS: tuple[tuple[str, str], ...] = (
    ("PubkeyAuthentication", "yes"),
    ("PasswordAuthentication", "yes"),
    ("KbdInteractiveAuthentication", "no"),
    ("PermitRootLogin", "no"),
    ("UsePAM", "no"),
    ("StrictModes", "no"),
    ("Subsystem", "sftp internal-sftp"),
    ("AllowTcpForwarding", "yes"),
    ("AllowAgentForwarding", "yes"),
    ("X11Forwarding", "no"),
    ("PrintMotd", "no"),
    ("PrintLastLog", "no"),
    ("UseDNS", "no"),
    ("LogLevel", "VERBOSE"),
    ("MaxStartups", "100:30:200"),
    ("MaxSessions", "32"),
)
_SSHD_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"}

# The login user's shell rc files: no output, nothing slow (root's or /etc/skel's may be either).
_DOTFILES = {
    ".profile": (
        "# corral test fleet: plain and silent\n"
        'if [ -n "$BASH_VERSION" ] && [ -f "$HOME/.bashrc" ]; then . "$HOME/.bashrc"; fi\n'
    ),
    ".bashrc": (
        "# corral test fleet: plain and silent\n"
        "case $- in *i*) ;; *) return ;; esac\n"
        "PS1='\\u@\\h:\\w\\$ '\n"
    ),
    ".bash_logout": "# corral test fleet: plain and silent\n",
}


class FleetError(RuntimeError):
    """The fleet could not be started, restarted or stopped (the message says why)."""


class FleetUnavailable(FleetError):
    """No fleet can run here (not root, no sshd): tests that need one should be skipped."""


@dataclass(frozen=True)
class FleetHost:
    """One host of a fleet."""

    alias: str  # Host alias in the fleet's ssh_config, e.g. "host1"
    address: str  # loopback address, e.g. "127.142.7.1"
    port: int
    user: str  # login user

    @property
    def host_string(self) -> str:
        """``user@address:port``."""
        return f"{self.user}@{self.address}:{self.port}"


class Fleet(Protocol):
    """What every fleet offers: real sshd (SSHDFleet) or corral's embedded server.

    SSHDFleet also controls its server processes (restart, kill_sessions, ...), for tests of
    faults; the embedded server does not.
    """

    directory: Path
    hosts: list[FleetHost]
    user: str
    password: str
    key_path: Path
    ssh_config_path: Path
    known_hosts_path: Path
    home: Path

    def start(self) -> Fleet: ...
    def stop(self) -> None: ...
    def __enter__(self) -> Fleet: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def run_as_user(
        self, command: str, *, input: str | None = None, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]: ...
    @property
    def host_strings(self) -> list[str]: ...


# ----------------------------------------------------------------------------- availability


def _unavailable_reason() -> str | None:
    """Why a fleet of real sshd processes cannot run here, or None when it can."""
    if os.geteuid() != 0:
        return "it needs root (to run sshd and create the test users), and this is not root"
    if not os.access(SSHD, os.X_OK):
        return f"OpenSSH's sshd is not installed at {SSHD} (Debian: apt-get install openssh-server)"
    missing = [t for t in ("ssh-keygen", "useradd", "chpasswd", "visudo") if not shutil.which(t)]
    if missing:
        return f"missing tools: {', '.join(missing)}"
    return None


def sshd_available() -> bool:
    """True when :class:`SSHDFleet` can run here (root, sshd and its tools installed)."""
    return _unavailable_reason() is None


def start_fleet(hosts: int = 3, directory: str | Path | None = None, **kwargs: Any) -> Fleet:
    """Start and return a fleet of ``hosts`` SSH hosts (keyword arguments go to the fleet).

    Real sshd processes when running as root with OpenSSH installed; otherwise corral's
    embedded SSH server (unless ``embedded_fallback=False``, or options only sshd has were
    asked for: then :class:`FleetUnavailable` saying why).
    """
    embedded_fallback = kwargs.pop("embedded_fallback", True)
    reason = _unavailable_reason()
    if reason is None:
        fleet = SSHDFleet(hosts, directory, **kwargs)
        try:
            return fleet.start()
        except BaseException:
            fleet.stop()  # the caller never sees this fleet: remove its temporary directory
            raise
    if embedded_fallback:
        # Imported here: it imports FleetHost from this module, and needs asyncssh.
        from .server import EmbeddedFleet

        alias_prefix = kwargs.pop("alias_prefix", "host")
        if kwargs:
            raise FleetUnavailable(
                f"real sshd is needed for {', '.join(sorted(kwargs))} ({reason})"
            )
        return EmbeddedFleet(hosts, directory, alias_prefix=alias_prefix).start()
    raise FleetUnavailable(f"cannot start a fleet of real sshd processes: {reason}")


# ----------------------------------------------------------------------------- /proc helpers


class _Stat(NamedTuple):
    ppid: int
    start: int  # start time in clock ticks since boot: (pid, start) names one process
    comm: str
    state: str


class _Sock(NamedTuple):
    local: str
    lport: int
    remote: str
    rport: int
    state: str  # "0A" = LISTEN
    inode: int


def _read_stat(pid: int) -> _Stat | None:
    try:
        data = Path(f"/proc/{pid}/stat").read_bytes().decode(errors="replace")
        comm = data[data.index("(") + 1 : data.rindex(")")]
        fields = data[data.rindex(")") + 2 :].split()
        return _Stat(int(fields[1]), int(fields[19]), comm, fields[0])
    except (OSError, ValueError, IndexError):
        return None


def _proc_table() -> dict[int, _Stat]:
    table: dict[int, _Stat] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = _read_stat(int(name))
            if st is not None:
                table[int(name)] = st
    return table


def _alive(pid: int, start: int) -> bool:
    st = _read_stat(pid)
    return st is not None and st.start == start and st.state not in ("Z", "X")


def _descendants(table: Mapping[int, _Stat], roots: set[int]) -> set[int]:
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


def _ancestors(table: Mapping[int, _Stat], pid: int) -> set[int]:
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


def _tcp_sockets(v6: bool = False) -> list[_Sock]:
    out: list[_Sock] = []
    try:
        lines = Path("/proc/net/tcp6" if v6 else "/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return out
    for line in lines:
        f = line.split()
        if len(f) < 10:
            continue
        (la, lp), (ra, rp) = f[1].split(":"), f[2].split(":")
        out.append(_Sock(_hex_to_ip(la), int(lp, 16), _hex_to_ip(ra), int(rp, 16), f[3], int(f[9])))
    return out


def _listening(want: set[tuple[str, int]]) -> set[tuple[str, int]]:
    """The (address, port) pairs of ``want`` with a LISTEN socket (read, never connected to:
    a probe connection would make sshd fork, and show up in its log)."""
    return {(s.local, s.lport) for s in _tcp_sockets() if s.state == "0A"} & want


def _socket_inodes(pid: int) -> set[int]:
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


def _is_sshd(pid: int) -> bool:
    try:
        return os.readlink(f"/proc/{pid}/exe") == SSHD
    except OSError:
        return False


def _signal(procs: Mapping[int, int], sig: int) -> int:
    """Send ``sig`` to each (pid, start time) that is still that process, oldest (parents)
    first; return how many were running. All are checked before any is signalled: a session's
    sshd pair can die of the other's death within microseconds, and still counts."""
    targets = sorted(
        ((start, pid) for pid, start in procs.items() if _alive(pid, start)),
    )
    for _start, pid in targets:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    return len(targets)


def _wait_gone(procs: Mapping[int, int], timeout: float) -> list[int]:
    """Wait until none of the processes runs (zombies count as gone); return the survivors."""
    deadline = time.monotonic() + timeout
    while True:
        left = [pid for pid, start in procs.items() if _alive(pid, start)]
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.01)


def _tail(path: Path, lines: int = 12) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:]) or "(empty log)"


# ----------------------------------------------------------------------------- locks, users


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    LOCK_DIR.mkdir(mode=0o755, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


class _Lease:
    """Exclusive use of the address blocks 127.X.Y .. 127.X.(Y+k-1) while held."""

    def __init__(self) -> None:
        self._held: list[tuple[int, Path]] = []

    def try_add(self, path: Path, note: str) -> bool:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            # the file may have been unlinked by its previous holder after we opened it
            if os.fstat(fd).st_ino != os.stat(path).st_ino:
                raise OSError("lock file replaced")
        except OSError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, note.encode())
        self._held.append((fd, path))
        return True

    def release(self) -> None:
        while self._held:
            fd, path = self._held.pop()
            with contextlib.suppress(OSError):
                path.unlink()  # unlink while still locked: see the inode check in try_add
            os.close(fd)


def _lease_block(octets: int, note: str) -> tuple[int, int, _Lease]:
    """Pick a random 127.X.Y block (X in 100..250) spanning ``octets`` third octets that no
    socket uses, and lease it; return (X, Y, lease)."""
    LOCK_DIR.mkdir(mode=0o755, exist_ok=True)
    rng = random.SystemRandom()
    for _ in range(500):
        x, y = rng.randint(100, 250), rng.randint(0, 256 - octets)
        lease = _Lease()
        if all(lease.try_add(LOCK_DIR / f"127.{x}.{y + k}.lock", note) for k in range(octets)):
            prefixes = tuple(f"127.{x}.{y + k}." for k in range(octets))
            if not any(
                s.local.startswith(prefixes) or s.remote.startswith(prefixes)
                for s in _tcp_sockets()
            ):
                return x, y, lease
        lease.release()
    raise FleetError("found no free loopback address block 127.X.Y (X in 100..250)")


def _pick_port(addresses: list[str]) -> int:
    """A port free on the first address (the kernel's choice) that nothing else listens on,
    on any of ``addresses`` or on a wildcard address."""
    wanted = set(addresses) | {"0.0.0.0", "::"}
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((addresses[0], 0))
            port: int = s.getsockname()[1]
        socks = _tcp_sockets() + _tcp_sockets(v6=True)
        if not any(s.lport == port and s.local in wanted for s in socks):
            return port
    raise FleetError(f"found no free port on {addresses[0]}")


def _run(argv: list[str], what: str, input: str | None = None) -> None:
    r = subprocess.run(argv, input=input, capture_output=True, text=True, check=False)
    if r.returncode != 0:
        raise FleetError(f"{what} failed (exit {r.returncode}): {(r.stderr or r.stdout).strip()}")


def _ensure_user(name: str) -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    r = subprocess.run(
        ["useradd", "-m", "-d", f"/home/{name}", "-s", "/bin/bash", name],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        return pwd.getpwnam(name)
    except KeyError:
        raise FleetError(
            f"useradd {name} failed (exit {r.returncode}): {r.stderr.strip()}"
        ) from None


def _write_sudoers(user: str) -> None:
    path = Path(f"/etc/sudoers.d/corral-test-{user}")
    text = (
        "# corral test fleet: this user may run anything with sudo, after giving its password\n"
        f"Defaults:{user} lecture=never\n"
        f"{user} ALL=(ALL:ALL) ALL\n"
    )
    with contextlib.suppress(OSError):
        if path.read_text() == text:
            return
    tmp = path.with_name(f".corral-test-{user}.tmp")  # a name with a dot: sudo ignores it
    tmp.write_text(text)
    os.chmod(tmp, 0o440)
    try:
        _run(["visudo", "-cf", str(tmp)], f"visudo -cf {tmp}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _prepare_login_user(user: str) -> Path:
    """Create (or refresh) the login user and corral-other; return the login user's home."""
    with _file_lock(LOCK_DIR / "users.lock"):
        pw = _ensure_user(user)
        _ensure_user(OTHER_USER)
        home = Path(pw.pw_dir)
        if not home.is_dir():
            home.mkdir(mode=0o755, parents=True)
            os.chown(home, pw.pw_uid, pw.pw_gid)
        for name, text in _DOTFILES.items():
            path = home / name
            if path.is_symlink():
                path.unlink()
            path.write_text(text)
            os.chown(path, pw.pw_uid, pw.pw_gid)
            os.chmod(path, 0o644)
        _write_sudoers(user)
        return home


def _password_file(user: str) -> Path:
    return LOCK_DIR / f"{user}.password.json"


def _claim_password(user: str, token: str) -> str:
    """The login user's password for a fleet that starts: the one already in use when another
    running fleet (of any process) uses this user, since setting a new one would break that
    fleet; otherwise a new random one, set with chpasswd. Holders are listed in a root-only
    file in LOCK_DIR."""
    with _file_lock(LOCK_DIR / "users.lock"):
        path = _password_file(user)
        try:
            state = json.loads(path.read_text())
            holders = [
                h for h in state["holders"] if h["token"] != token and _alive(h["pid"], h["start"])
            ]
            password = str(state["password"]) if holders else ""
        except (OSError, ValueError, KeyError, TypeError):
            holders, password = [], ""
        if not password:
            password = secrets.token_urlsafe(18)
            _run(["chpasswd"], f"chpasswd for {user}", input=f"{user}:{password}\n")
        me = _read_stat(os.getpid())
        holders.append({"pid": os.getpid(), "start": me.start if me else 0, "token": token})
        _write_private(path, {"password": password, "holders": holders})
        return password


def _release_password(user: str, token: str) -> None:
    with _file_lock(LOCK_DIR / "users.lock"):
        path = _password_file(user)
        try:
            state = json.loads(path.read_text())
            holders = [
                h for h in state["holders"] if h["token"] != token and _alive(h["pid"], h["start"])
            ]
        except (OSError, ValueError, KeyError, TypeError):
            holders = []
        if holders:
            _write_private(path, {"password": state["password"], "holders": holders})
        else:
            path.unlink(missing_ok=True)


def _write_private(path: Path, data: object) -> None:
    """Write JSON readable by root only, atomically."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def _keygen(path: Path, comment: str) -> None:
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".pub").unlink(missing_ok=True)
    _run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        f"ssh-keygen {path}",
    )


def _quote(value: str | Path) -> str:
    text = str(value)
    return f'"{text}"' if any(c.isspace() for c in text) else text


# ----------------------------------------------------------------------------- the fleet


@dataclass
class _Listener:
    index: int
    hosts: list[FleetHost]
    conf: Path
    log: Path
    pidfile: Path
    hostkey: Path
    popen: subprocess.Popen[bytes] | None = None


class SSHDFleet:
    """A fleet of ``hosts`` SSH hosts served by real sshd processes on loopback (needs root).

    ``directory`` holds every file of the fleet (default: a new temporary directory, removed by
    ``stop()``). ``sshd_options`` adds or overrides sshd_config keywords (case-insensitive), e.g.
    ``{"MaxStartups": "2:100:2", "UnusedConnectionTimeout": "2"}``; a ``"Match"`` key is written
    last, as ``Match <value>`` (the value may hold the block's indented lines). ``start_timeout``
    bounds the wait for every address to listen (default 30 s, more for big fleets).
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
    ) -> None:
        if not 1 <= hosts <= HOSTS_PER_OCTET * 64:
            raise ValueError(f"hosts must be between 1 and {HOSTS_PER_OCTET * 64}, not {hosts}")
        if not _USER_RE.match(user) or user in ("root", OTHER_USER):
            raise ValueError(f"unsuitable login user name {user!r}")
        if not _ALIAS_RE.match(alias_prefix):
            raise ValueError(f"alias_prefix must be letters, digits, '-' or '_': {alias_prefix!r}")
        options = dict(sshd_options or {})
        for key, value in options.items():
            if key.lower() in _MANAGED_OPTIONS:
                raise ValueError(f"sshd option {key} is managed by the fleet")
            if not re.fullmatch(r"[A-Za-z]+", key) or ("\n" in value and key.lower() != "match"):
                raise ValueError(f"bad sshd option {key!r}: {value!r}")
        self.host_count = hosts
        self.user = user
        self.alias_prefix = alias_prefix
        self.sshd_options: dict[str, str] = options
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
        self._listeners: list[_Listener] = []
        self._lease: _Lease | None = None
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
            reason = _unavailable_reason()
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
            self._stop_listeners()
            self._spawn_all()
            self._write_state()

    def __enter__(self) -> SSHDFleet:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ queries and faults

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
        return sorted(self._sessions(_proc_table(), host))

    def kill_sessions(self, host: FleetHost | None = None, sig: int = signal.SIGKILL) -> int:
        """Send ``sig`` to the per-connection sshd processes of ``host`` (or every host), as if
        the server dropped those connections; return how many processes were signalled.

        With SIGKILL, waits until they are gone. The commands the sessions ran keep running
        (as after a real network drop); ``stop()`` ends them.
        """
        procs = self._sessions(_proc_table(), host)
        sent = _signal(procs, sig)
        if sig == signal.SIGKILL:
            _wait_gone(procs, 5.0)
        return sent

    def run_as_user(
        self, command: str, *, input: str | None = None, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        """Run shell ``command`` on this machine as the login user, in a login shell (via
        runuser, or su), with ``input`` on stdin: for assertions such as "is the remote
        process gone". The shell running ``command`` has it in its own command line, so
        ``pgrep -f MARKER`` always finds that shell: use ``pgrep -f '[M]ARKER'`` or
        ``pgrep -fx 'WHOLE COMMAND LINE'``."""
        if shutil.which("runuser"):
            argv = ["runuser", "-l", self.user, "-c", command]
        else:
            argv = ["su", "-l", self.user, "-c", command]
        return subprocess.run(
            argv, input=input, capture_output=True, text=True, timeout=timeout, check=False
        )

    def log_tail(self, lines: int = 12) -> str:
        """The last lines of every sshd log of the fleet (for error messages)."""
        return "\n".join(f"--- {ln.log.name}\n{_tail(ln.log, lines)}" for ln in self._listeners)

    # ------------------------------------------------------------------ start

    def _start(self) -> None:
        d = self.directory
        d.mkdir(parents=True, exist_ok=True)
        os.chmod(d, 0o755)  # sshd reads authorized_keys as the login user
        self._check_reachable(d)
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation dir

        self.home = _prepare_login_user(self.user)
        self._token = secrets.token_hex(8)
        self.password = _claim_password(self.user, self._token)
        self._password_claimed = True

        n = self.host_count
        x, y, self._lease = _lease_block(
            math.ceil(n / HOSTS_PER_OCTET), f"pid {os.getpid()} fleet {d}\n"
        )
        addresses = [
            f"127.{x}.{y + i // HOSTS_PER_OCTET}.{i % HOSTS_PER_OCTET + 1}" for i in range(n)
        ]
        self.port = _pick_port(addresses)
        self.hosts = [
            FleetHost(f"{self.alias_prefix}{i + 1}", a, self.port, self.user)
            for i, a in enumerate(addresses)
        ]
        self._listeners = [
            _Listener(
                index=k,
                hosts=self.hosts[j : j + MAX_LISTEN_SOCKS],
                conf=d / f"sshd_{k}.conf",
                log=d / f"sshd_{k}.log",
                pidfile=d / f"sshd_{k}.pid",
                hostkey=d / f"hostkey_{k}",
            )
            for k, j in enumerate(range(0, n, MAX_LISTEN_SOCKS))
        ]

        jobs = [(self.key_path, "corral-fleet-client")] + [
            (ln.hostkey, f"corral-fleet-{ln.index}") for ln in self._listeners
        ]
        with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
            for future in [pool.submit(_keygen, path, comment) for path, comment in jobs]:
                future.result()
        self.authorized_keys_path.write_text(self.key_path.with_suffix(".pub").read_text())
        os.chmod(self.authorized_keys_path, 0o644)
        for ln in self._listeners:
            ln.conf.write_text(self._sshd_config(ln))
            ln.log.write_text("")
        self._write_client_files()
        self._spawn_all()
        self._write_state()

    def _check_reachable(self, d: Path) -> None:
        for parent in [d, *d.parents]:
            if not parent.stat().st_mode & 0o001:
                raise FleetError(
                    f"{parent} is not searchable by other users, so sshd (running as "
                    f"{self.user}) could not read {d}/authorized_keys: use another directory"
                )

    def _sshd_config(self, ln: _Listener) -> str:
        lines = [f"# corral test fleet: sshd {ln.index} of {len(self._listeners)}"]
        lines += [f"ListenAddress {h.address}:{h.port}" for h in ln.hosts]
        lines += [
            f"HostKey {_quote(ln.hostkey)}",
            f"PidFile {_quote(ln.pidfile)}",
            f"AuthorizedKeysFile {_quote(self.authorized_keys_path)}",
        ]
        options = {k.lower(): (k, v) for k, v in self.sshd_options.items()}
        match = options.pop("match", None)
        for key, value in _DEFAULT_OPTIONS:
            key, value = options.pop(key.lower(), (key, value))
            lines.append(f"{key} {value}")
        key, value = options.pop("setenv", ("SetEnv", ""))
        lines.append(f"{key} {ENV_MARKER}={self._token} {value}".rstrip())
        lines += [f"{key} {value}" for key, value in options.values()]
        if match is not None:
            lines.append(f"Match {match[1]}")
        return "\n".join(lines) + "\n"

    def _write_client_files(self) -> None:
        blocks = [
            f"# corral test fleet in {self.directory}: {len(self.hosts)} hosts, port {self.port}\n"
        ]
        for h in self.hosts:
            blocks.append(
                f"Host {h.alias}\n"
                f"  HostName {h.address}\n"
                f"  Port {h.port}\n"
                f"  User {h.user}\n"
                f"  IdentityFile {_quote(self.key_path)}\n"
                "  IdentitiesOnly yes\n"
                f"  UserKnownHostsFile {_quote(self.known_hosts_path)}\n"
                "  StrictHostKeyChecking yes\n"
            )
        self.ssh_config_path.write_text("\n".join(blocks))
        known: list[str] = []
        for ln in self._listeners:
            kind, key = ln.hostkey.with_name(ln.hostkey.name + ".pub").read_text().split()[:2]
            for h in ln.hosts:
                name = h.address if h.port == 22 else f"[{h.address}]:{h.port}"
                known.append(f"{name} {kind} {key}\n")
        self.known_hosts_path.write_text("".join(known))

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
            "processes": [
                {
                    "pid": ln.popen.pid if ln.popen else None,
                    "conf": str(ln.conf),
                    "log": str(ln.log),
                    "pidfile": str(ln.pidfile),
                    "hostkey": str(ln.hostkey),
                    "hosts": [h.alias for h in ln.hosts],
                }
                for ln in self._listeners
            ],
        }
        _write_private(self.state_path, state)

    def _spawn_all(self) -> None:
        """Start every listener (all at once) and wait until all addresses listen."""
        for ln in self._listeners:
            ln.pidfile.unlink(missing_ok=True)
            ln.popen = subprocess.Popen(
                [SSHD, "-D", "-f", str(ln.conf), "-E", str(ln.log)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=_SSHD_ENV,
                start_new_session=True,  # not hit by signals sent to the test runner's group
            )
        want = {(h.address, h.port) for h in self.hosts}
        deadline = time.monotonic() + self.start_timeout
        while True:
            up = _listening(want)
            if len(up) == len(want):
                return
            dead = [ln for ln in self._listeners if ln.popen and ln.popen.poll() is not None]
            if dead or time.monotonic() > deadline:
                break
            time.sleep(0.02)
        bad = dead or [ln for ln in self._listeners if {(h.address, h.port) for h in ln.hosts} - up]
        why = (
            "; ".join(
                f"sshd_{ln.index} exited with status {ln.popen.returncode}"
                for ln in dead
                if ln.popen
            )
            or f"timed out after {self.start_timeout:g} s"
        )
        logs = "\n".join(f"--- {ln.log}\n{_tail(ln.log)}" for ln in bad[:3])
        raise FleetError(
            f"{len(want) - len(up)} of {len(want)} fleet addresses did not start listening on "
            f"port {self.port} ({why}). sshd log:\n{logs}"
        )

    # ------------------------------------------------------------------ processes and stop

    def _sessions(self, table: Mapping[int, _Stat], host: FleetHost | None) -> dict[int, int]:
        """Per-connection sshd processes -> start time: every sshd process holding a connected
        TCP socket on a fleet address (of ``host``), plus (for all hosts) the listeners'
        sshd children and their sshd descendants."""
        listeners = set(self.listener_pids())
        wanted = {(h.address, h.port) for h in self.hosts if host is None or h == host}
        inodes = {
            s.inode
            for s in _tcp_sockets()
            if s.state != "0A" and s.inode and (s.local, s.lport) in wanted
        }
        roots: set[int] = set()
        if inodes:
            for pid, st in table.items():
                if (
                    st.comm == "sshd"
                    and pid not in listeners
                    and _socket_inodes(pid) & inodes
                    and _is_sshd(pid)
                ):
                    roots.add(pid)
        if host is None:
            roots |= {pid for pid, st in table.items() if st.ppid in listeners}
        found = roots | _descendants(table, roots)
        return {
            pid: table[pid].start
            for pid in found - listeners
            if pid in table
            and table[pid].comm == "sshd"
            and table[pid].state not in ("Z", "X")
            and _is_sshd(pid)
        }

    def _marked(self, table: Mapping[int, _Stat]) -> set[int]:
        """Processes whose environment carries this fleet's session marker."""
        needle = f"\0{ENV_MARKER}={self._token}\0".encode()
        out: set[int] = set()
        for pid in table:
            try:
                env = Path(f"/proc/{pid}/environ").read_bytes()
            except OSError:
                continue
            if needle in b"\0" + env + b"\0":
                out.add(pid)
        return out

    def _all_processes(self) -> dict[int, int]:
        """Every process of the fleet except its listeners: sessions, what they run, and
        processes started in a session that outlived it. Never this process or its parents."""
        table = _proc_table()
        listeners = set(self.listener_pids())
        roots = set(self._sessions(table, None)) | self._marked(table) | listeners
        found = (roots | _descendants(table, roots)) - listeners - _ancestors(table, os.getpid())
        return {
            pid: table[pid].start
            for pid in found
            if pid in table and table[pid].state not in ("Z", "X")
        }

    def _stop_listeners(self) -> None:
        for ln in self._listeners:
            if ln.popen is None:
                continue
            if ln.popen.poll() is None:
                ln.popen.terminate()
                with contextlib.suppress(ProcessLookupError):
                    os.kill(ln.popen.pid, signal.SIGCONT)  # in case a test stopped it
                try:
                    ln.popen.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    ln.popen.kill()
                    ln.popen.wait()
            ln.popen = None
            ln.pidfile.unlink(missing_ok=True)

    def _teardown(self, remove_directory: bool) -> None:
        survivors: list[int] = []
        try:
            # sessions first, while their listeners still run and reap them; then the
            # listeners; then whatever slipped through (a connection accepted meanwhile, a
            # process a session started): found by socket and by environment marker
            if self._token:
                procs = self._all_processes()
                _signal(procs, signal.SIGKILL)
                survivors = _wait_gone(procs, 5.0)
            self._stop_listeners()
            for _ in range(3 if self._token else 0):
                procs = self._all_processes()
                if not procs:
                    survivors = []
                    break
                _signal(procs, signal.SIGKILL)
                survivors = _wait_gone(procs, 5.0)
        finally:
            if self._lease is not None:
                self._lease.release()
                self._lease = None
            if self._password_claimed:
                _release_password(self.user, self._token)
                self._password_claimed = False
            self._started = False
            atexit.unregister(self.stop)
            if remove_directory:
                shutil.rmtree(self.directory, ignore_errors=True)
            else:
                self.state_path.unlink(missing_ok=True)
        if survivors:
            raise FleetError(f"fleet processes did not exit after SIGKILL: {survivors}")
