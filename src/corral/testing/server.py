"""Embedded SSH server: a fleet of loopback SSH hosts served by asyncssh.

This is the fallback for :mod:`corral.testing.fleet` when OpenSSH's ``sshd`` is not
available or we are not root.  :class:`EmbeddedFleet` starts *one* child process
(``python -m corral.testing.server``) that runs an asyncssh server on one asyncio loop,
listening on N distinct loopback addresses ``127.X.Y.Z`` (one random ``X`` per fleet)
on one port, each address with its own ed25519 host key.

The server behaves like a small OpenSSH ``sshd`` for the current local user:

* authentication by the generated client key or the generated password, for that user only;
* ``exec``/``shell`` requests run through the user's shell in the user's home directory,
  in their own session (process group), with a plain environment (``HOME``, ``USER``,
  ``LOGNAME``, ``PATH``, ``SHELL``, ``SSH_CONNECTION``, ``SSH_CLIENT``) plus the
  client's ``env`` requests; stdin/stdout/stderr are streamed as bytes with EOF in both
  directions, and the exit status or exit signal is reported like OpenSSH does;
* ``pty-req`` runs the command on a real pseudo-terminal of the requested size;
* ``signal`` requests go to the command's process group; a channel closed (or a
  connection lost) before the command finished kills its process group (HUP, then KILL);
* the ``sftp`` subsystem is asyncssh's SFTP server (real paths, relative to the home);
* local (direct-tcpip) and remote (tcpip-forward) port forwarding, loopback only.

Files written to the fleet directory: ``ssh_config``, ``known_hosts``, ``id``/``id.pub``
(client key), ``password``, ``hostkeys/<alias>``, ``server.log`` and finally ``ready``
(JSON), which :meth:`EmbeddedFleet.start` waits for.

Command line: ``python -m corral.testing.server --directory D --hosts N [--alias-prefix host]``.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import fcntl
import getpass
import hmac
import ipaddress
import json
import os
import posixpath
import pwd
import random
import secrets
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any, cast

import asyncssh
from asyncssh.channel import SSHChannel
from asyncssh.stream import SSHServerStreamSession

# One FleetHost type for both kinds of fleet (fleet.py must import this module lazily).
from corral.testing.fleet import FleetHost

__all__ = ["EmbeddedFleet", "FleetHost", "main"]

PASSWORD_ENV = "CORRAL_EMBEDDED_FLEET_PASSWORD"
"""Environment variable through which :class:`EmbeddedFleet` hands the password to the child."""

READY_FILE = "ready"
LOG_FILE = "server.log"
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
READ_CHUNK = 64 * 1024
STDIN_HIGH_WATER = 256 * 1024
STDIN_LOW_WATER = 64 * 1024
KILL_GRACE = 1.0
"""Seconds between SIGHUP and SIGKILL when a command's process group is torn down."""
SFTP_VERSION = 3
PTY_LINGER = 0.2
"""Seconds a pty session may outlive its command while other processes hold the terminal."""
MAX_HOSTS = 250 * 254


# --------------------------------------------------------------------------------------
# Helpers shared by both sides
# --------------------------------------------------------------------------------------


def _host_address(prefix: int, index: int) -> str:
    """Address of host number ``index`` (0-based): 127.prefix.Y.Z with Z in 1..254."""
    return f"127.{prefix}.{index // 254}.{index % 254 + 1}"


def _is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _config_value(value: str) -> str:
    """Quote a value for ssh_config if it contains whitespace."""
    return f'"{value}"' if any(c.isspace() for c in value) else value


def _write_file(path: Path, data: bytes | str, mode: int = 0o644) -> None:
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


def _user_shell() -> str:
    try:
        shell = pwd.getpwuid(os.getuid()).pw_shell
    except KeyError:
        shell = ""
    if (
        not shell
        or os.path.basename(shell) in ("nologin", "false")
        or not os.access(shell, os.X_OK)
    ):
        shell = "/bin/sh"
    return shell


def _used_loopback_prefixes() -> set[int]:
    """Second octets of 127.X.*.* addresses that have TCP sockets right now."""
    used: set[int] = set()
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return used
    for line in lines:
        fields = line.split()
        if len(fields) < 2:
            continue
        raw = bytes.fromhex(fields[1].split(":")[0])
        if sys.byteorder == "little":
            raw = raw[::-1]
        if len(raw) == 4 and raw[0] == 127:
            used.add(raw[1])
    return used


def _bind_sockets(count: int) -> tuple[int, list[str], list[socket.socket]]:
    """Bind ``count`` listening sockets on 127.X.*.* (random unused X), one shared port."""
    if not 1 <= count <= MAX_HOSTS:
        raise ValueError(f"hosts must be between 1 and {MAX_HOSTS}, not {count}")
    used = _used_loopback_prefixes()
    candidates = [x for x in range(100, 251) if x not in used] or list(range(100, 251))
    random.shuffle(candidates)
    last_error: OSError | None = None
    for prefix in candidates[:20]:
        addresses = [_host_address(prefix, i) for i in range(count)]
        sockets: list[socket.socket] = []
        port = 0
        try:
            for address in addresses:
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                sock.bind((address, port))
                port = sock.getsockname()[1]
        except OSError as exc:
            last_error = exc
            for sock in sockets:
                sock.close()
            continue
        return port, addresses, sockets
    raise OSError(f"cannot bind loopback addresses for the embedded fleet: {last_error}")


# --------------------------------------------------------------------------------------
# Server side (runs in the child process)
# --------------------------------------------------------------------------------------


class _ServerState:
    """What every connection of the embedded server shares."""

    def __init__(
        self, user: str, password: str, client_key: asyncssh.SSHKey, home: Path, shell: str
    ) -> None:
        self.user = user
        self.password = password
        self.client_key_data = client_key.public_data
        self.home = home
        self.shell = shell
        self.process_groups: set[int] = set()

    def signal_group(self, pgid: int, sig: int) -> bool:
        """Send ``sig`` to a process group; False (and forget it) if the group is gone."""
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            self.process_groups.discard(pgid)
            return False
        except PermissionError:
            return False
        return True

    def terminate_group(self, pgid: int) -> None:
        """SIGHUP (and SIGCONT) now, SIGKILL after a grace period: nothing is left running."""
        if self.signal_group(pgid, signal.SIGHUP):
            self.signal_group(pgid, signal.SIGCONT)
        asyncio.get_running_loop().call_later(KILL_GRACE, self._kill_group, pgid)

    def _kill_group(self, pgid: int) -> None:
        self.signal_group(pgid, signal.SIGKILL)
        self.process_groups.discard(pgid)

    async def terminate_all(self) -> None:
        for pgid in list(self.process_groups):
            if self.signal_group(pgid, signal.SIGHUP):
                self.signal_group(pgid, signal.SIGCONT)
        deadline = time.monotonic() + KILL_GRACE
        while self.process_groups and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            for pgid in list(self.process_groups):
                self.signal_group(pgid, 0)
        for pgid in list(self.process_groups):
            self.signal_group(pgid, signal.SIGKILL)
        self.process_groups.clear()


class _HomeSFTPServer(asyncssh.SFTPServer):
    """asyncssh's SFTP server on real paths, relative paths resolved from the home."""

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], home: Path) -> None:
        super().__init__(chan)
        self._home = os.fsencode(home)

    def map_path(self, path: bytes) -> bytes:
        if path.startswith(b"/"):
            return path
        return posixpath.join(self._home, path)


def _acquire_controlling_tty() -> None:  # pragma: no cover - runs in the forked child
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


def _set_winsize(fd: int, size: tuple[int, int, int, int]) -> None:
    width, height, pixwidth, pixheight = size
    if width > 0 and height > 0:
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", height, width, pixwidth, pixheight))


def _signal_name(sig: int) -> str:
    try:
        return signal.Signals(sig).name.removeprefix("SIG")
    except ValueError:
        return "SIG@openssh.com"


class _Session(asyncssh.SSHServerSession[bytes]):
    """One session channel: a command (pipes or pty), a shell, or the SFTP subsystem."""

    def __init__(self, state: _ServerState) -> None:
        self._state = state
        self._chan: asyncssh.SSHServerChannel[bytes] | None = None
        self._loop = asyncio.get_running_loop()
        self._sftp: SSHServerStreamSession[bytes] | None = None
        self._command: str | None = None
        self._pty: tuple[str, tuple[int, int, int, int]] | None = None
        self._master: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._pgid: int | None = None
        self._stdin_fd: int | None = None
        self._stdin_buf = bytearray()
        self._stdin_writer = False
        self._stdin_eof = False
        self._chan_reading_paused = False
        self._outputs: dict[int, bool] = {}  # fd -> is stderr
        self._fds: set[int] = set()  # file descriptors this session owns
        self._output_paused = False
        self._eof_sent = False
        self._status: int | None = None
        self._done = False
        self._closed = False

    # -- channel setup ------------------------------------------------------------------

    def connection_made(self, chan: asyncssh.SSHServerChannel[bytes]) -> None:
        self._chan = chan

    def pty_requested(
        self, term_type: str, term_size: tuple[int, int, int, int], term_modes: Mapping[int, int]
    ) -> bool:
        self._pty = (term_type, term_size)
        return True

    def shell_requested(self) -> bool:
        return True

    def exec_requested(self, command: str) -> bool:
        self._command = command
        return True

    def subsystem_requested(self, subsystem: str) -> bool:
        if subsystem != "sftp" or self._chan is None:
            return False
        home = self._state.home

        def factory(chan: SSHChannel[bytes]) -> asyncssh.SFTPServer:
            return _HomeSFTPServer(cast("asyncssh.SSHServerChannel[bytes]", chan), home)

        self._sftp = SSHServerStreamSession(None, factory, SFTP_VERSION)
        self._sftp.connection_made(self._chan)
        return True

    def session_started(self) -> None:
        if self._sftp is not None:
            self._sftp.session_started()
            return
        assert self._chan is not None
        try:
            self._spawn()
        except (OSError, ValueError, subprocess.SubprocessError) as exc:
            with contextlib.suppress(OSError):
                self._chan.write_stderr(f"corral embedded sshd: {exc}\r\n".encode())
                self._chan.exit(255)
            self._done = True

    # -- command process ------------------------------------------------------------------

    def _environment(self) -> dict[str, str]:
        assert self._chan is not None
        state = self._state
        conn = self._chan.get_connection()
        peer = conn.get_extra_info("peername") or ("0.0.0.0", 0)
        local = conn.get_extra_info("sockname") or ("0.0.0.0", 0)
        env = {
            "HOME": str(state.home),
            "USER": state.user,
            "LOGNAME": state.user,
            "PATH": DEFAULT_PATH,
            "SHELL": state.shell,
            "SSH_CONNECTION": f"{peer[0]} {peer[1]} {local[0]} {local[1]}",
            "SSH_CLIENT": f"{peer[0]} {peer[1]} {local[1]}",
        }
        if self._pty is not None and self._pty[0]:
            env["TERM"] = self._pty[0]
        env.update(self._chan.get_environment())
        return env

    def _spawn(self) -> None:
        state = self._state
        shell = state.shell
        name = os.path.basename(shell)
        if self._command is None:
            argv = [f"-{name}"]  # login shell, like sshd does for a shell request
        else:
            argv = [name, "-c", self._command]
        cwd = str(state.home) if state.home.is_dir() else "/"
        env = self._environment()
        to_close: list[int] = []
        try:
            if self._pty is not None:
                master, slave = os.openpty()
                self._master = master
                self._fds.add(master)
                to_close.append(slave)
                _set_winsize(slave, self._pty[1])
                env["SSH_TTY"] = os.ttyname(slave)
                self._proc = subprocess.Popen(
                    argv,
                    executable=shell,
                    stdin=slave,
                    stdout=slave,
                    stderr=slave,
                    cwd=cwd,
                    env=env,
                    start_new_session=True,
                    preexec_fn=_acquire_controlling_tty,
                )
                self._stdin_fd = master
                self._outputs = {master: False}
            else:
                in_r, in_w = os.pipe()
                self._stdin_fd = in_w
                self._fds.add(in_w)
                to_close.append(in_r)
                out_r, out_w = os.pipe()
                self._outputs[out_r] = False
                self._fds.add(out_r)
                to_close.append(out_w)
                err_r, err_w = os.pipe()
                self._outputs[err_r] = True
                self._fds.add(err_r)
                to_close.append(err_w)
                self._proc = subprocess.Popen(
                    argv,
                    executable=shell,
                    stdin=in_r,
                    stdout=out_w,
                    stderr=err_w,
                    cwd=cwd,
                    env=env,
                    start_new_session=True,
                )
        except BaseException:
            self._close_fds()
            raise
        finally:
            for fd in to_close:
                os.close(fd)
        self._pgid = self._proc.pid
        state.process_groups.add(self._pgid)
        for fd in {self._stdin_fd, *self._outputs}:
            os.set_blocking(fd, False)
        self._start_reading()
        self._watch_exit(self._proc.pid)
        if self._stdin_buf or self._stdin_eof:
            self._flush_stdin()

    def _watch_exit(self, pid: int) -> None:
        try:
            pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):
            threading.Thread(target=self._wait_thread, args=(pid,), daemon=True).start()
            return

        def ready() -> None:
            self._loop.remove_reader(pidfd)
            os.close(pidfd)
            try:
                _, status = os.waitpid(pid, 0)
            except ChildProcessError:
                status = 255 << 8
            self._process_exited(status)

        self._loop.add_reader(pidfd, ready)

    def _wait_thread(self, pid: int) -> None:
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            status = 255 << 8
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._process_exited, status)

    def _process_exited(self, status: int) -> None:
        self._status = status
        if self._proc is not None:
            self._proc.returncode = os.waitstatus_to_exitcode(status)
        if self._master is not None and self._master in self._outputs:
            # The pty: the reader goes on until EIO (no process has the terminal open any
            # more); background jobs holding it keep the session open only briefly.
            self._loop.call_later(PTY_LINGER, self._close_pty)
        self._maybe_finish()

    def _close_pty(self) -> None:
        master = self._master
        if master is not None and master in self._outputs:
            while not self._closed and self._read_output(master):
                pass
            self._stop_output(master)

    # -- output: command -> channel ---------------------------------------------------------

    def _start_reading(self) -> None:
        for fd in self._outputs:
            self._loop.add_reader(fd, self._read_output, fd)

    def _stop_reading(self) -> None:
        for fd in self._outputs:
            self._loop.remove_reader(fd)

    def _read_output(self, fd: int) -> bool:
        """Forward one chunk from ``fd``; False when there is nothing more right now."""
        try:
            data = os.read(fd, READ_CHUNK)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:  # EIO from a pty master once the terminal is gone
            data = b""
        if not data:
            self._stop_output(fd)
            return False
        assert self._chan is not None
        try:
            if self._outputs.get(fd):
                self._chan.write_stderr(data)
            else:
                self._chan.write(data)
        except OSError:
            pass
        return True

    def _stop_output(self, fd: int) -> None:
        if self._outputs.pop(fd, None) is None:
            return
        self._loop.remove_reader(fd)
        if fd != self._master:
            self._close_fd(fd)
        if not self._outputs:
            self._send_eof()
            self._maybe_finish()

    def _send_eof(self) -> None:
        if not self._eof_sent and not self._closed and self._chan is not None:
            self._eof_sent = True
            with contextlib.suppress(OSError):
                self._chan.write_eof()

    def _maybe_finish(self) -> None:
        if self._done or self._status is None or self._outputs:
            return
        self._done = True
        status = self._status
        if not self._closed and self._chan is not None:
            self._send_eof()
            with contextlib.suppress(OSError):
                if os.WIFSIGNALED(status):
                    self._chan.exit_with_signal(
                        _signal_name(os.WTERMSIG(status)), os.WCOREDUMP(status)
                    )
                else:
                    self._chan.exit(os.waitstatus_to_exitcode(status))
        self._close_fds()
        if self._pgid is not None:
            # Background jobs left behind (nohup ...) keep running, as with sshd; the
            # group stays tracked so that stopping the fleet still ends them.
            self._state.signal_group(self._pgid, 0)

    def pause_writing(self) -> None:
        if self._sftp is not None:
            self._sftp.pause_writing()
            return
        if not self._output_paused:
            self._output_paused = True
            self._stop_reading()

    def resume_writing(self) -> None:
        if self._sftp is not None:
            self._sftp.resume_writing()
            return
        if self._output_paused:
            self._output_paused = False
            if not self._closed:
                self._start_reading()

    # -- input: channel -> command ----------------------------------------------------------

    def data_received(self, data: bytes, datatype: asyncssh.DataType) -> None:
        if self._sftp is not None:
            self._sftp.data_received(data, datatype)
            return
        if self._done and self._stdin_fd is None:
            return
        self._stdin_buf += data
        if self._proc is not None:
            self._flush_stdin()

    def eof_received(self) -> bool:
        if self._sftp is not None:
            return self._sftp.eof_received()
        self._stdin_eof = True
        if self._proc is not None:
            self._flush_stdin()
        return True  # half-close: the command's output keeps flowing

    def _flush_stdin(self) -> None:
        fd = self._stdin_fd
        if fd is None:
            self._stdin_buf.clear()
            return
        while self._stdin_buf:
            try:
                written = os.write(fd, self._stdin_buf)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # EPIPE: the command does not read its input any more
                self._stdin_buf.clear()
                self._close_stdin()
                break
            del self._stdin_buf[:written]
        if self._stdin_buf and not self._stdin_writer:
            self._loop.add_writer(fd, self._flush_stdin)
            self._stdin_writer = True
        elif not self._stdin_buf and self._stdin_writer:
            self._loop.remove_writer(fd)
            self._stdin_writer = False
        if self._chan is not None and not self._closed:
            if len(self._stdin_buf) > STDIN_HIGH_WATER and not self._chan_reading_paused:
                self._chan_reading_paused = True
                self._chan.pause_reading()
            elif len(self._stdin_buf) <= STDIN_LOW_WATER and self._chan_reading_paused:
                self._chan_reading_paused = False
                self._chan.resume_reading()
        if not self._stdin_buf and self._stdin_eof and self._master is None:
            self._close_stdin()  # EOF for the command (a pty ignores EOF, as with sshd)

    def _close_stdin(self) -> None:
        fd = self._stdin_fd
        if fd is None:
            return
        self._stdin_fd = None
        if self._stdin_writer:
            self._loop.remove_writer(fd)
            self._stdin_writer = False
        if fd != self._master:
            self._close_fd(fd)

    def _close_fd(self, fd: int) -> None:
        if fd in self._fds:
            self._fds.discard(fd)
            os.close(fd)

    def _close_fds(self) -> None:
        for fd in self._outputs:
            self._loop.remove_reader(fd)
        self._outputs.clear()
        self._close_stdin()
        for fd in list(self._fds):
            self._close_fd(fd)
        self._master = None

    # -- requests while running -----------------------------------------------------------

    def signal_received(self, signal_name: str) -> None:
        if self._pgid is None or self._done:
            return
        name = signal_name.upper().removeprefix("SIG")
        sig = getattr(signal, f"SIG{name}", None)
        if isinstance(sig, signal.Signals):
            self._state.signal_group(self._pgid, sig)

    def terminal_size_changed(self, width: int, height: int, pixwidth: int, pixheight: int) -> None:
        if self._master is not None:
            with contextlib.suppress(OSError):
                _set_winsize(self._master, (width, height, pixwidth, pixheight))

    def break_received(self, msec: int) -> bool:
        if self._master is not None:
            with contextlib.suppress(OSError):
                termios.tcsendbreak(self._master, 0)
            return True
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        if self._sftp is not None:
            self._sftp.connection_lost(exc)
            return
        self._closed = True
        if not self._done and self._pgid is not None:
            self._state.terminate_group(self._pgid)
        # The exit watcher keeps running so that the command is reaped.
        self._close_fds()


class _SSHServer(asyncssh.SSHServer):
    """Authentication and forwarding policy for one connection."""

    def __init__(self, state: _ServerState) -> None:
        self._state = state

    def begin_auth(self, username: str) -> bool:
        return True

    def public_key_auth_supported(self) -> bool:
        return True

    def validate_public_key(self, username: str, key: asyncssh.SSHKey) -> bool:
        return username == self._state.user and hmac.compare_digest(
            key.public_data, self._state.client_key_data
        )

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == self._state.user and hmac.compare_digest(
            password.encode(), self._state.password.encode()
        )

    def session_requested(self) -> _Session:
        return _Session(self._state)

    def connection_requested(
        self, dest_host: str, dest_port: int, orig_host: str, orig_port: int
    ) -> bool:
        return _is_loopback(dest_host)

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        return _is_loopback(listen_host)


@dataclass
class _Prepared:
    """Everything the server needs once the files are written and the sockets bound."""

    directory: Path
    state: _ServerState
    hosts: list[FleetHost]
    sockets: list[socket.socket]
    host_keys: list[asyncssh.SSHKey]


def _prepare(directory: Path, count: int, alias_prefix: str) -> _Prepared:
    """Generate the keys, bind the sockets and write everything but the ``ready`` file."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / READY_FILE).unlink(missing_ok=True)
    user = getpass.getuser()
    home = Path.home()
    password = os.environ.get(PASSWORD_ENV) or secrets.token_urlsafe(18)
    _write_file(directory / "password", password + "\n", 0o600)

    client_key = asyncssh.generate_private_key("ssh-ed25519", comment="corral-embedded-fleet")
    _write_file(directory / "id", client_key.export_private_key(), 0o600)
    _write_file(directory / "id.pub", client_key.export_public_key(), 0o644)
    state = _ServerState(user, password, client_key, home, _user_shell())

    port, addresses, sockets = _bind_sockets(count)
    keydir = directory / "hostkeys"
    keydir.mkdir(exist_ok=True)
    hosts: list[FleetHost] = []
    host_keys: list[asyncssh.SSHKey] = []
    known_hosts: list[str] = []
    config: list[str] = []
    for index, address in enumerate(addresses):
        alias = f"{alias_prefix}{index + 1}"
        host_key = asyncssh.generate_private_key("ssh-ed25519", comment=alias)
        _write_file(keydir / alias, host_key.export_private_key(), 0o600)
        key_type, key_data = host_key.export_public_key().decode().split()[:2]
        _write_file(keydir / f"{alias}.pub", f"{key_type} {key_data} {alias}\n")
        known_hosts.append(f"[{address}]:{port} {key_type} {key_data}\n")
        host_keys.append(host_key)
        hosts.append(FleetHost(alias, address, port, user))
        config += [
            f"Host {alias}",
            f"    HostName {address}",
            f"    Port {port}",
            f"    User {user}",
            f"    IdentityFile {_config_value(str(directory / 'id'))}",
            "    IdentitiesOnly yes",
            f"    UserKnownHostsFile {_config_value(str(directory / 'known_hosts'))}",
            "",
        ]
    _write_file(directory / "known_hosts", "".join(known_hosts))
    _write_file(directory / "ssh_config", "\n".join(config))
    return _Prepared(directory, state, hosts, sockets, host_keys)


def _write_ready(prepared: _Prepared) -> None:
    hosts = prepared.hosts
    ready = {
        "pid": os.getpid(),
        "port": hosts[0].port,
        "user": prepared.state.user,
        "home": str(prepared.state.home),
        "hosts": [
            {"alias": h.alias, "address": h.address, "port": h.port, "user": h.user} for h in hosts
        ],
    }
    _write_file(prepared.directory / READY_FILE, json.dumps(ready, indent=2) + "\n")
    print(
        f"corral embedded fleet ready: {len(hosts)} hosts on port {hosts[0].port}; "
        f"ssh -F {prepared.directory / 'ssh_config'} {hosts[0].alias}",
        flush=True,
    )


async def _serve(prepared: _Prepared, exit_on_stdin_eof: bool = False) -> None:
    state = prepared.state
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(sig, stopping.set)
    if exit_on_stdin_eof:  # the parent went away (or closed our stdin): shut down

        def stdin_ready() -> None:
            try:
                data = os.read(0, 4096)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                loop.remove_reader(0)
                stopping.set()

        os.set_blocking(0, False)
        loop.add_reader(0, stdin_ready)

    acceptors: list[asyncssh.SSHAcceptor] = []
    for sock, host_key in zip(prepared.sockets, prepared.host_keys, strict=True):
        acceptors.append(
            await asyncssh.listen(
                sock=sock,
                server_factory=lambda: _SSHServer(state),
                server_host_keys=[host_key],
                encoding=None,
                kbdint_auth=False,
                agent_forwarding=False,
                x11_forwarding=False,
                allow_scp=False,
                login_timeout=30,
            )
        )
    _write_ready(prepared)

    await stopping.wait()
    for acceptor in acceptors:
        acceptor.close()
    await state.terminate_all()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m corral.testing.server",
        description="Serve a fleet of loopback SSH hosts (embedded asyncssh server).",
    )
    parser.add_argument("--directory", required=True, help="where to write keys and config")
    parser.add_argument("--hosts", type=int, default=3, help="number of hosts (default 3)")
    parser.add_argument("--alias-prefix", default="host", help="host alias prefix")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.hosts <= MAX_HOSTS:
        parser.error(f"--hosts must be between 1 and {MAX_HOSTS}")
    prepared = _prepare(Path(args.directory).resolve(), args.hosts, args.alias_prefix)
    try:
        asyncio.run(_serve(prepared, args.exit_on_stdin_eof))
    finally:
        for sock in prepared.sockets:
            sock.close()
        (prepared.directory / READY_FILE).unlink(missing_ok=True)
    return 0


# --------------------------------------------------------------------------------------
# Client side (the test process)
# --------------------------------------------------------------------------------------


class EmbeddedFleet:
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
        src = str(Path(__file__).resolve().parents[2])  # make corral importable in the child
        env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
        command = [
            sys.executable,
            "-m",
            "corral.testing.server",
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
                    + _tail(log_path)
                )
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"embedded SSH server not ready after {self.start_timeout:.0f} s:\n"
                    + _tail(log_path)
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

    def __enter__(self) -> EmbeddedFleet:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self._proc is not None else "stopped"
        return f"<EmbeddedFleet {len(self.hosts) or self._count} hosts, {state}>"


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no server log)"
    return text[-limit:] or "(server log is empty)"


if __name__ == "__main__":
    sys.exit(main())
