"""Reading OpenSSH client config (`~/.ssh/config`, `/etc/ssh/ssh_config`) with asyncssh's parser.

asyncssh parses Host, Match, Include and percent tokens; it skips options it does not use,
so corral registers the host-key options it applies itself (StrictHostKeyChecking,
HashKnownHosts).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from asyncssh.config import ConfigParseError, SSHClientConfig

from ..errors import ConfigError

DEFAULT_USER_KNOWN_HOSTS = ("~/.ssh/known_hosts", "~/.ssh/known_hosts2")
DEFAULT_GLOBAL_KNOWN_HOSTS = ("/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2")


class _ClientConfig(SSHClientConfig):
    """asyncssh's client config parser, plus the host-key options corral applies."""

    def _set_choice(self, option: str, args: list[str]) -> None:
        value = args.pop(0).lower()
        choices = {
            "StrictHostKeyChecking": ("yes", "no", "off", "ask", "accept-new"),
            "HashKnownHosts": ("yes", "no"),
        }[option]
        if value not in choices:
            self._error(f"Invalid {option} value: {value} (expected one of {', '.join(choices)})")
        if option not in self._options:
            self._options[option] = value

    # ProxyCommand is expanded by corral once the port and user are final (a host string's
    # `:2200` or `user@` beats ssh_config); asyncssh would use ssh_config's values only.
    _percent_expand = SSHClientConfig._percent_expand - {"ProxyCommand"}

    _handlers = {
        **SSHClientConfig._handlers,
        "stricthostkeychecking": ("StrictHostKeyChecking", _set_choice),
        "hashknownhosts": ("HashKnownHosts", _set_choice),
    }


@dataclass(frozen=True)
class HostConfig:
    """What ssh_config says about one host; None means "not set there"."""

    hostname: str
    user: str | None = None
    port: int | None = None
    identity_files: tuple[str, ...] = ()
    identities_only: bool = False
    proxy_jump: str | None = None
    proxy_command: str | None = None
    connect_timeout: float | None = None
    forward_agent: bool | None = None
    server_alive_interval: float | None = None
    server_alive_count_max: int | None = None
    user_known_hosts: tuple[str, ...] | None = None
    global_known_hosts: tuple[str, ...] | None = None
    strict_host_key_checking: str | None = None
    hash_known_hosts: bool = False
    host_key_alias: str | None = None
    identity_agent: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


def _expand(paths: Sequence[str]) -> tuple[str, ...]:
    return tuple(os.path.expanduser(p) for p in paths)


Stamps = tuple[tuple[str, int, int], ...]
#: Settings another process already read from files these stamps name (`prime`).
_primed: dict[tuple[str, Stamps, str], HostConfig] = {}


def file_stamps(paths: Sequence[str | Path]) -> Stamps:
    """Return (path, mtime, size) of each readable file of `paths` (missing ones skipped)."""
    existing = [Path(os.path.expanduser(str(p))) for p in paths]
    existing = [p for p in existing if p.is_file() and os.access(p, os.R_OK)]
    stamps = []
    for path in existing:
        st = path.stat()
        stamps.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(stamps)


def prime(host: str, stamps: Stamps, local_user: str, settings: HostConfig) -> None:
    """Remember what another process read for `host` from the files `stamps` name: used here
    while those files are the same (an executor's worker on the caller's machine does not
    parse a big ssh_config again for every host; on another node, its own files are read)."""
    if len(_primed) > 100_000:
        _primed.clear()
    _primed[(host, stamps, local_user)] = settings


def lookup(host: str, paths: Sequence[str | Path], *, local_user: str) -> HostConfig:
    """Return the ssh_config settings for `host` from the given files (missing ones skipped)."""
    stamps = file_stamps(paths)
    primed = _primed.get((host, stamps, local_user))
    if primed is not None:
        return primed
    # A fleet of 1,000 hosts built from one ssh_config parses it once per distinct host,
    # and again only when a file changes (included files are not watched).
    return _lookup(host, stamps, local_user)


@functools.lru_cache(maxsize=4096)
def _lookup(host: str, stamps: tuple[tuple[str, int, int], ...], local_user: str) -> HostConfig:
    existing = [Path(path) for path, _, _ in stamps]
    try:
        parsed = _ClientConfig.load(None, existing, False, False, False, local_user, (), host, ())
    except ConfigParseError as exc:
        raise ConfigError(f"ssh config: {exc}") from exc
    except OSError as exc:
        raise ConfigError(f"ssh config: cannot read {exc.filename}: {exc.strerror}") from exc
    get = parsed.get
    proxy_jump = get("ProxyJump")
    proxy_command = get("ProxyCommand")
    user_known = get("UserKnownHostsFile")
    global_known = get("GlobalKnownHostsFile")
    forward_agent = get("ForwardAgent")
    return HostConfig(
        hostname=cast(str, get("Hostname", host)),
        user=cast("str | None", get("User")),
        port=cast("int | None", get("Port")),
        identity_files=_expand(cast("list[str]", get("IdentityFile", []))),
        identities_only=bool(get("IdentitiesOnly", False)),
        proxy_jump=None if proxy_jump in (None, "none") else str(proxy_jump),
        proxy_command=None if proxy_command in (None, "none") else str(proxy_command),
        connect_timeout=cast("float | None", get("ConnectTimeout")),
        forward_agent=None if forward_agent is None else forward_agent is True,
        server_alive_interval=cast("float | None", get("ServerAliveInterval")),
        server_alive_count_max=cast("int | None", get("ServerAliveCountMax")),
        user_known_hosts=None if user_known is None else _expand(cast("list[str]", user_known)),
        global_known_hosts=(
            None if global_known is None else _expand(cast("list[str]", global_known))
        ),
        strict_host_key_checking=cast("str | None", get("StrictHostKeyChecking")),
        hash_known_hosts=get("HashKnownHosts") == "yes",
        host_key_alias=cast("str | None", get("HostKeyAlias")),
        identity_agent=cast("str | None", get("IdentityAgent")),
        options=dict(parsed._options),
    )
