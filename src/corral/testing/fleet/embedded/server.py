"""The embedded server process: ``python -m corral.testing.fleet.embedded --directory D
--hosts N``. It binds N loopback addresses on one port, writes the client's files (keys,
ssh_config, known_hosts, password), serves SSH on one asyncio loop, and writes ``ready``."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import hmac
import ipaddress
import json
import os
import random
import secrets
import signal
import socket
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncssh

from ..base import FleetHost
from .common import MAX_HOSTS, PASSWORD_ENV, READY_FILE, host_address, write_file
from .session import Session
from .state import ServerState, user_shell


def is_loopback(host: str) -> bool:
    """Return True for localhost and loopback addresses (the only forwarding targets)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def config_value(value: str) -> str:
    """Quote a value for ssh_config if it contains whitespace."""
    return f'"{value}"' if any(c.isspace() for c in value) else value


def used_loopback_prefixes() -> set[int]:
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


def bind_sockets(count: int) -> tuple[int, list[str], list[socket.socket]]:
    """Bind ``count`` listening sockets on 127.X.*.* (random unused X), one shared port."""
    if not 1 <= count <= MAX_HOSTS:
        raise ValueError(f"hosts must be between 1 and {MAX_HOSTS}, not {count}")
    used = used_loopback_prefixes()
    candidates = [x for x in range(100, 251) if x not in used] or list(range(100, 251))
    random.shuffle(candidates)
    last_error: OSError | None = None
    for prefix in candidates[:20]:
        addresses = [host_address(prefix, i) for i in range(count)]
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


class SSHServer(asyncssh.SSHServer):
    """Authentication and forwarding policy for one connection."""

    def __init__(self, state: ServerState) -> None:
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

    def session_requested(self) -> Session:
        return Session(self._state)

    def connection_requested(
        self, dest_host: str, dest_port: int, orig_host: str, orig_port: int
    ) -> bool:
        return is_loopback(dest_host)

    def server_requested(self, listen_host: str, listen_port: int) -> bool:
        return is_loopback(listen_host)


@dataclass
class Prepared:
    """Everything the server needs once the files are written and the sockets bound."""

    directory: Path
    state: ServerState
    hosts: list[FleetHost]
    sockets: list[socket.socket]
    host_keys: list[asyncssh.SSHKey]


def prepare(directory: Path, count: int, alias_prefix: str) -> Prepared:
    """Generate the keys, bind the sockets and write everything but the ``ready`` file."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / READY_FILE).unlink(missing_ok=True)
    user = getpass.getuser()
    home = Path.home()
    password = os.environ.get(PASSWORD_ENV) or secrets.token_urlsafe(18)
    write_file(directory / "password", password + "\n", 0o600)

    client_key = asyncssh.generate_private_key("ssh-ed25519", comment="corral-embedded-fleet")
    write_file(directory / "id", client_key.export_private_key(), 0o600)
    write_file(directory / "id.pub", client_key.export_public_key(), 0o644)
    state = ServerState(user, password, client_key, home, user_shell())

    port, addresses, sockets = bind_sockets(count)
    keydir = directory / "hostkeys"
    keydir.mkdir(exist_ok=True)
    hosts: list[FleetHost] = []
    host_keys: list[asyncssh.SSHKey] = []
    known_hosts: list[str] = []
    config: list[str] = []
    for index, address in enumerate(addresses):
        alias = f"{alias_prefix}{index + 1}"
        host_key = asyncssh.generate_private_key("ssh-ed25519", comment=alias)
        write_file(keydir / alias, host_key.export_private_key(), 0o600)
        key_type, key_data = host_key.export_public_key().decode().split()[:2]
        write_file(keydir / f"{alias}.pub", f"{key_type} {key_data} {alias}\n")
        known_hosts.append(f"[{address}]:{port} {key_type} {key_data}\n")
        host_keys.append(host_key)
        hosts.append(FleetHost(alias, address, port, user))
        config += [
            f"Host {alias}",
            f"    HostName {address}",
            f"    Port {port}",
            f"    User {user}",
            f"    IdentityFile {config_value(str(directory / 'id'))}",
            "    IdentitiesOnly yes",
            f"    UserKnownHostsFile {config_value(str(directory / 'known_hosts'))}",
            "",
        ]
    write_file(directory / "known_hosts", "".join(known_hosts))
    write_file(directory / "ssh_config", "\n".join(config))
    return Prepared(directory, state, hosts, sockets, host_keys)


def write_ready(prepared: Prepared) -> None:
    """Write the ``ready`` file the controller waits for, and say so on stdout."""
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
    write_file(prepared.directory / READY_FILE, json.dumps(ready, indent=2) + "\n")
    print(
        f"corral embedded fleet ready: {len(hosts)} hosts on port {hosts[0].port}; "
        f"ssh -F {prepared.directory / 'ssh_config'} {hosts[0].alias}",
        flush=True,
    )


async def serve(prepared: Prepared, exit_on_stdin_eof: bool = False) -> None:
    """Serve every host until SIGTERM, SIGINT or SIGHUP (or stdin closed); then end every
    command the sessions started."""
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
                server_factory=lambda: SSHServer(state),
                server_host_keys=[host_key],
                encoding=None,
                kbdint_auth=False,
                agent_forwarding=False,
                x11_forwarding=False,
                allow_scp=False,
                login_timeout=30,
            )
        )
    write_ready(prepared)

    await stopping.wait()
    for acceptor in acceptors:
        acceptor.close()
    await state.terminate_all()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server process (the command line above); return its exit status."""
    parser = argparse.ArgumentParser(
        prog="python -m corral.testing.fleet.embedded",
        description="Serve a fleet of loopback SSH hosts (embedded asyncssh server).",
    )
    parser.add_argument("--directory", required=True, help="where to write keys and config")
    parser.add_argument("--hosts", type=int, default=3, help="number of hosts (default 3)")
    parser.add_argument("--alias-prefix", default="host", help="host alias prefix")
    parser.add_argument("--exit-on-stdin-eof", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not 1 <= args.hosts <= MAX_HOSTS:
        parser.error(f"--hosts must be between 1 and {MAX_HOSTS}")
    prepared = prepare(Path(args.directory).resolve(), args.hosts, args.alias_prefix)
    try:
        asyncio.run(serve(prepared, args.exit_on_stdin_eof))
    finally:
        for sock in prepared.sockets:
            sock.close()
        (prepared.directory / READY_FILE).unlink(missing_ok=True)
    return 0
