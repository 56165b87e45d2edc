"""Host key verification: known_hosts lookup, the strict / accept-new / ignore policies.

asyncssh matches keys (hashed entries, `[host]:port`, @cert-authority, @revoked); this
module decides what an unmatched key means (unknown or CHANGED), records keys under
accept-new, and explains a rejection with the fingerprint, the file and the fix.
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import asyncssh

from ..errors import ChangedHostKey, ConfigError, HostKeyError, RevokedHostKey, UnknownHostKey

log = logging.getLogger("corral.hostkeys")

Policy = Literal["strict", "accept-new", "ignore"]
POLICIES: tuple[Policy, ...] = ("strict", "accept-new", "ignore")
_FROM_SSH_CONFIG: dict[str, Policy] = {
    "yes": "strict",
    "ask": "strict",  # nobody to ask in a batch run
    "accept-new": "accept-new",
    "no": "ignore",
    "off": "ignore",
}


def choose_policy(configured: object, strict_host_key_checking: str | None) -> Policy:
    """Pick the policy: corral config, else ssh_config StrictHostKeyChecking, else strict."""
    if configured is not None:
        if configured not in POLICIES:
            raise ConfigError(f"host_key_policy={configured!r} is not one of {', '.join(POLICIES)}")
        return configured
    if strict_host_key_checking is not None:
        return _FROM_SSH_CONFIG[strict_host_key_checking]
    return "strict"


def host_pattern(host: str, port: int) -> str:
    """Return the known_hosts name for a host: `host`, or `[host]:port` off port 22."""
    return host if port == 22 else f"[{host}]:{port}"


def hashed_pattern(name: str, salt: bytes | None = None) -> str:
    """Return OpenSSH's hashed form `|1|salt|hmac-sha1` of a known_hosts name."""
    salt = salt if salt is not None else os.urandom(20)
    digest = hmac.new(salt, name.encode(), hashlib.sha1).digest()
    return f"|1|{base64.b64encode(salt).decode()}|{base64.b64encode(digest).decode()}"


@lru_cache(maxsize=32)
def _load(files: tuple[tuple[str, float, int], ...]) -> asyncssh.SSHKnownHosts:
    """Parse known_hosts files once per (path, mtime, size): a fleet shares one parse."""
    data = b"".join(Path(path).read_bytes() + b"\n" for path, _, _ in files)
    return asyncssh.import_known_hosts(data.decode("utf-8", "replace"))


def _stamp(paths: Sequence[str]) -> tuple[tuple[str, float, int], ...]:
    out = []
    for path in paths:
        with contextlib.suppress(OSError):
            st = os.stat(path)
            out.append((path, st.st_mtime, st.st_size))
    return tuple(out)


def _fingerprint(key: asyncssh.SSHKey) -> str:
    return f"{key.get_algorithm()} {key.get_fingerprint('sha256')}"


@dataclass
class HostKeyVerifier:
    """Verify one connection's host key under a policy; explain a rejection afterwards."""

    label: str  # the host as the user named it, for messages
    host: str  # the name keys are looked up under (HostKeyAlias or HostName)
    port: int
    policy: Policy
    files: tuple[str, ...]  # every known_hosts file consulted, user files first
    write_file: str  # where accept-new records keys
    hash_new: bool = False
    presented: asyncssh.SSHKey | None = field(default=None, init=False)
    had_entries: bool = field(default=False, init=False)
    address: str = field(default="", init=False)

    def known_hosts(self) -> asyncssh.SSHKnownHosts | None:
        """Return what asyncssh should trust (None disables checking: policy "ignore")."""
        if self.policy == "ignore":
            log.warning("%s: host key checking is off (host_key_policy=ignore)", self.label)
            return None
        return _load(_stamp(self.files))

    def validate(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        """Decide on a key that matched no trusted entry (called by asyncssh)."""
        self.presented = key
        self.address = addr
        known = _load(_stamp(self.files))
        keys, cas, *_ = asyncssh.match_known_hosts(known, self.host, addr, self.port)
        self.had_entries = bool(keys or cas)
        if self.had_entries or self.policy != "accept-new":
            return False
        self._record(key)
        return True

    def _record(self, key: asyncssh.SSHKey) -> None:
        """Append the key for this host to the user's known_hosts, under a lock."""
        path = Path(self.write_file)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = host_pattern(self.host, self.port)
        pattern = hashed_pattern(name) if self.hash_new else name
        line = f"{pattern} {key.export_public_key('openssh').decode().strip()}\n"
        with open(path, "a+", encoding="utf-8") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:  # another connection may have recorded this host meanwhile
                handle.seek(0)
                current = asyncssh.import_known_hosts(handle.read())
                trusted, *_ = asyncssh.match_known_hosts(
                    current, self.host, self.address, self.port
                )
                if key not in trusted:
                    handle.write(line)
                    handle.flush()
                    os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        log.warning("%s: added host key %s to %s", self.label, _fingerprint(key), path)

    def _matching_lines(self) -> list[str]:
        found = []
        for path in self.files:
            with contextlib.suppress(OSError):
                text = Path(path).read_text("utf-8", "replace")
                for number, line in enumerate(text.splitlines(), 1):
                    if not line.strip() or line.lstrip().startswith("#"):
                        continue
                    with contextlib.suppress(ValueError, asyncssh.Error):
                        one = asyncssh.import_known_hosts(line)
                        keys, cas, *_ = asyncssh.match_known_hosts(
                            one, self.host, self.address, self.port
                        )
                        if keys or cas:
                            found.append(f"{path}:{number}")
        return found

    def error(self, reason: str) -> HostKeyError:
        """Build the error for a rejected key from asyncssh's reason and what was seen."""
        name = host_pattern(self.host, self.port)
        if "revoked" in reason.lower():
            return RevokedHostKey(
                self.label, f"host key is revoked ({reason}); refusing to connect"
            )
        if self.presented is None:
            return HostKeyError(self.label, f"host key not accepted: {reason}")
        fingerprint = _fingerprint(self.presented)
        if self.had_entries:
            lines = ", ".join(self._matching_lines()) or ", ".join(self.files)
            return ChangedHostKey(
                self.label,
                f"HOST KEY CHANGED: the host sent {fingerprint}, which differs from the key "
                f"recorded in {lines}. This may be a man-in-the-middle attack. If the change "
                f"is expected, run: ssh-keygen -R {name!r} -f {self.write_file} and connect again",
            )
        existing = [path for path in self.files if os.path.exists(path)]
        consulted = (
            f"is not in {', '.join(existing)}"
            if existing
            else f"has no entry: no known_hosts file exists (looked for {', '.join(self.files)})"
        )
        return UnknownHostKey(
            self.label,
            f"unknown host key {fingerprint}; {name} {consulted}. Verify the "
            f"fingerprint, then add it (ssh-keyscan -p {self.port} {self.host} >> "
            f"{self.write_file}), or accept new hosts: corral --host-key-policy accept-new "
            "(config host_key_policy)",
        )
