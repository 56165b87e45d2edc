"""The files of an sshd fleet: keys, each sshd's config, and the client's ssh_config and
known_hosts (host key checking stays on: every host's real key is listed)."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .base import FleetHost
from .listener import Listener
from .users import run_tool

ENV_MARKER = "CORRAL_FLEET"  # SetEnv'd into every session: how stop() finds orphaned processes

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


def check_sshd_options(options: Mapping[str, str]) -> dict[str, str]:
    """Return the options as a dict; raise ValueError for a managed or malformed one."""
    checked = dict(options)
    for key, value in checked.items():
        if key.lower() in _MANAGED_OPTIONS:
            raise ValueError(f"sshd option {key} is managed by the fleet")
        if not re.fullmatch(r"[A-Za-z]+", key) or ("\n" in value and key.lower() != "match"):
            raise ValueError(f"bad sshd option {key!r}: {value!r}")
    return checked


def quote(value: str | Path) -> str:
    """Quote a value for sshd_config or ssh_config when it holds whitespace."""
    text = str(value)
    return f'"{text}"' if any(c.isspace() for c in text) else text


def keygen(path: Path, comment: str) -> None:
    """Generate an ed25519 key pair at ``path`` and ``path.pub`` (replacing any)."""
    path.unlink(missing_ok=True)
    path.with_name(path.name + ".pub").unlink(missing_ok=True)
    run_tool(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        f"ssh-keygen {path}",
    )


def sshd_config_text(
    *,
    title: str,
    listen: Iterable[tuple[str, int]],
    hostkey: Path,
    pidfile: Path,
    authorized_keys: Path,
    options: Mapping[str, str],
    marker: str,
) -> str:
    """Return an sshd_config: the fleet's defaults, overridden and extended by ``options``
    (case-insensitive keys; a ``Match`` block last), and ``SetEnv`` with the ``marker``."""
    lines = [f"# {title}"]
    lines += [f"ListenAddress {address}:{port}" for address, port in listen]
    lines += [
        f"HostKey {quote(hostkey)}",
        f"PidFile {quote(pidfile)}",
        f"AuthorizedKeysFile {quote(authorized_keys)}",
    ]
    remaining = {k.lower(): (k, v) for k, v in options.items()}
    match = remaining.pop("match", None)
    for key, value in _DEFAULT_OPTIONS:
        key, value = remaining.pop(key.lower(), (key, value))
        lines.append(f"{key} {value}")
    key, value = remaining.pop("setenv", ("SetEnv", ""))
    lines.append(f"{key} {marker} {value}".rstrip())
    lines += [f"{key} {value}" for key, value in remaining.values()]
    if match is not None:
        lines.append(f"Match {match[1]}")
    return "\n".join(lines) + "\n"


def ssh_config_text(
    hosts: Iterable[FleetHost], key_path: Path, known_hosts_path: Path, header: str
) -> str:
    """Return a client ssh_config with one ``Host`` block per host, host key checking on."""
    blocks = [f"# {header}\n"]
    for h in hosts:
        blocks.append(
            f"Host {h.alias}\n"
            f"  HostName {h.address}\n"
            f"  Port {h.port}\n"
            f"  User {h.user}\n"
            f"  IdentityFile {quote(key_path)}\n"
            "  IdentitiesOnly yes\n"
            f"  UserKnownHostsFile {quote(known_hosts_path)}\n"
            "  StrictHostKeyChecking yes\n"
        )
    return "\n".join(blocks)


def known_hosts_text(keyed: Iterable[tuple[Path, Iterable[FleetHost]]]) -> str:
    """Return known_hosts lines: for each (host key file, hosts), the key's public half under
    every host's ``address`` (port 22) or ``[address]:port``."""
    known: list[str] = []
    for hostkey, hosts in keyed:
        kind, key = hostkey.with_name(hostkey.name + ".pub").read_text().split()[:2]
        for h in hosts:
            name = h.address if h.port == 22 else f"[{h.address}]:{h.port}"
            known.append(f"{name} {kind} {key}\n")
    return "".join(known)


def write_fleet_files(
    listeners: Sequence[Listener],
    *,
    client_key: Path,
    authorized_keys: Path,
    ssh_config: Path,
    known_hosts: Path,
    options: Mapping[str, str],
    marker: str,
) -> None:
    """Generate the client key and every listener's host key, and write authorized_keys, each
    listener's sshd_config and the client's ssh_config and known_hosts."""
    jobs = [(client_key, "corral-fleet-client")] + [
        (ln.hostkey, f"corral-fleet-{ln.index}") for ln in listeners
    ]
    with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
        for future in [pool.submit(keygen, path, comment) for path, comment in jobs]:
            future.result()
    authorized_keys.write_text(client_key.with_suffix(".pub").read_text())
    os.chmod(authorized_keys, 0o644)
    for ln in listeners:
        ln.conf.write_text(
            sshd_config_text(
                title=f"corral test fleet: sshd {ln.index} of {len(listeners)}",
                listen=[(h.address, h.port) for h in ln.hosts],
                hostkey=ln.hostkey,
                pidfile=ln.pidfile,
                authorized_keys=authorized_keys,
                options=options,
                marker=marker,
            )
        )
        ln.log.write_text("")
    hosts = [h for ln in listeners for h in ln.hosts]
    header = f"corral test fleet in {ssh_config.parent}: {len(hosts)} hosts, port {hosts[0].port}"
    ssh_config.write_text(ssh_config_text(hosts, client_key, known_hosts, header))
    known_hosts.write_text(known_hosts_text((ln.hostkey, ln.hosts) for ln in listeners))
