"""A host's connection settings: checking them, and reading them from Ansible's `ansible_*`
vars (ansible_host, ansible_port, ansible_user, ansible_ssh_private_key_file, ProxyJump in
ansible_ssh_common_args, become and login passwords)."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any

from ..config import Secret
from ..errors import InventoryError
from .model import Origin

#: Connection settings an inventory sets on a host (not config: they shape the Connection).
SETTINGS = ("address", "port", "user", "key_file", "gateway")

# Letters, digits and the punctuation of names, IPv4/IPv6 addresses and scoped zones.
ADDRESS = re.compile(r"[A-Za-z0-9_.:%-]+\Z")
USER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.@+-]*\Z")
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: Host names: what the host-string parser accepts, and no pattern punctuation but ':'
#: (IPv6); ranges are expanded before names are checked.
HOST_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.:%-]*\Z")
#: Group names: Ansible allows '-' and '.' (with a warning); ':' and ',' separate patterns.
GROUP_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z")

#: ansible_* vars that set a connection setting.
ANSIBLE_SETTINGS = {
    "ansible_host": "address",
    "ansible_ssh_host": "address",
    "ansible_port": "port",
    "ansible_ssh_port": "port",
    "ansible_user": "user",
    "ansible_ssh_user": "user",
    "ansible_ssh_private_key_file": "key_file",
    "ansible_private_key_file": "key_file",
}
#: ansible_* vars that set a config key of the host (their values are secrets or sudo's).
ANSIBLE_CONFIG = {
    "ansible_password": ("connect_kwargs", "password"),
    "ansible_ssh_pass": ("connect_kwargs", "password"),
    "ansible_ssh_password": ("connect_kwargs", "password"),
    "ansible_become_password": ("sudo", "password"),
    "ansible_become_pass": ("sudo", "password"),
    "ansible_sudo_pass": ("sudo", "password"),
    "ansible_become_user": ("sudo", "user"),
}
#: ansible_* vars holding secrets: kept in host vars as Secret, never shown.
ANSIBLE_SECRETS = frozenset(k for k, (_, key) in ANSIBLE_CONFIG.items() if key == "password")
#: ssh options carried in ansible_ssh_common_args / ansible_ssh_extra_args that corral maps.
ANSIBLE_SSH_ARGS = ("ansible_ssh_common_args", "ansible_ssh_extra_args")
#: ansible_* vars (with their harmless values; None: any value) that need nothing from corral.
ANSIBLE_IGNORED: dict[str, tuple[str, ...] | None] = {
    "ansible_python_interpreter": None,  # corral needs no Python on hosts
    "ansible_connection": ("ssh", "smart", "paramiko"),
    "ansible_become_method": ("sudo",),
    "ansible_shell_type": ("sh",),
}


def _bad(key: str, value: Any, expected: str, origin: Origin, entry: str) -> InventoryError:
    shown = "a secret" if isinstance(value, Secret) else repr(value)
    return InventoryError(
        f"{key}: expected {expected}, got {shown}",
        source=origin.source,
        line=origin.line,
        entry=entry,
    )


def check_setting(key: str, value: Any, origin: Origin, entry: str) -> Any:
    """Return a connection setting's value, checked; raise InventoryError naming `origin`."""
    if key == "port":
        if type(value) is int and 0 < value < 65536:  # the common case first
            return value
        text = str(value).strip() if isinstance(value, int | str) else ""
        if isinstance(value, bool) or not text.isdigit() or not 0 < int(text) < 65536:
            raise _bad(key, value, "a port number from 1 to 65535", origin, entry)
        return int(text)
    if not isinstance(value, str) or not value.strip():
        raise _bad(key, value, "a non-empty string", origin, entry)
    value = value.strip()
    if key == "address":
        if value.startswith("[") and value.endswith("]"):
            value = value[1:-1]  # [v6addr]
        if value.startswith("-") or not ADDRESS.match(value):
            raise _bad(
                key, value, "a host name or IP address (letters, digits, '.', '-', ':')", origin,
                entry,
            )  # fmt: skip
    elif key == "user":
        if not USER.match(value):
            raise _bad(key, value, "a user name", origin, entry)
    elif key not in ("key_file", "gateway"):  # pragma: no cover - a caller's bug
        raise _bad(key, value, f"one of {', '.join(SETTINGS)}", origin, entry)
    return value


@dataclass
class SshArgs:
    """What corral takes from an ansible_ssh_common_args string."""

    gateway: str | None = None
    ignored: list[str] = field(default_factory=list)


def parse_ssh_args(text: str) -> SshArgs:
    """Read ProxyJump (-J, -o ProxyJump=) and ProxyCommand from ssh command-line options."""
    found = SshArgs()
    try:
        words = shlex.split(text)
    except ValueError:
        found.ignored.append(text)
        return found
    index = 0
    while index < len(words):
        word = words[index]
        index += 1
        if word in ("-J", "-o") and index < len(words):
            word += words[index]
            index += 1
        if word.startswith("-J") and len(word) > 2:
            found.gateway = word[2:]
        elif word.startswith("-o") and len(word) > 2:
            name, sep, value = word[2:].partition("=")
            if not sep and index < len(words) and not words[index].startswith("-"):
                value = words[index]  # -o ProxyJump bastion
                index += 1
            if name.strip().lower() in ("proxyjump", "proxycommand") and value.strip():
                found.gateway = value.strip()
            else:
                found.ignored.append(f"-o {name}={value}" if value else f"-o {name}")
        else:
            found.ignored.append(word)
    return found
