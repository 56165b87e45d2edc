"""The keys an ssh-agent holds, listed as `ssh-add -l` lists them (`corral --list-agent-keys`)."""

from __future__ import annotations

import base64
import hashlib
import os
from dataclasses import dataclass

import asyncssh
from asyncssh.public_key import decode_ssh_public_key

from ..errors import ConfigError

#: `ssh-add -l`'s names of key types.
_TYPES = {
    "ssh-ed25519": "ED25519",
    "ssh-rsa": "RSA",
    "ssh-dss": "DSA",
    "ecdsa-sha2-nistp256": "ECDSA",
    "ecdsa-sha2-nistp384": "ECDSA",
    "ecdsa-sha2-nistp521": "ECDSA",
    "sk-ssh-ed25519@openssh.com": "ED25519-SK",
    "sk-ecdsa-sha2-nistp256@openssh.com": "ECDSA-SK",
    "ssh-ed448": "ED448",
}


@dataclass(frozen=True)
class AgentKey:
    """One key of the agent: its size in bits, SHA256 fingerprint, comment and type."""

    bits: int | None
    fingerprint: str
    comment: str
    kind: str

    def __str__(self) -> str:
        bits = "?" if self.bits is None else str(self.bits)
        return f"{bits} {self.fingerprint} {self.comment} ({self.kind})"


def _bits(public_data: bytes) -> int | None:
    try:
        key = decode_ssh_public_key(public_data)
    except (asyncssh.KeyImportError, ValueError):
        return None
    size = getattr(getattr(key, "pyca_key", None), "key_size", None)
    if isinstance(size, int):
        return size
    algorithm = key.get_algorithm()
    return {"ssh-ed25519": 256, "ssh-ed448": 456}.get(algorithm)


async def agent_keys(path: str | None = None) -> list[AgentKey]:
    """Return the keys of the ssh-agent at `path` (default: $SSH_AUTH_SOCK)."""
    socket = path or os.environ.get("SSH_AUTH_SOCK")
    if not socket:
        raise ConfigError(
            "no ssh-agent to ask: SSH_AUTH_SOCK is not set (start one: eval $(ssh-agent))"
        )
    try:
        agent = await asyncssh.connect_agent(socket)
    except (OSError, asyncssh.Error) as exc:
        raise ConfigError(f"cannot reach the ssh-agent at {socket}: {exc}") from exc
    try:
        keys = await agent.get_keys()
    except (OSError, asyncssh.Error) as exc:
        raise ConfigError(f"the ssh-agent at {socket} did not list its keys: {exc}") from exc
    finally:
        agent.close()
    listed = []
    for key in keys:
        data = key.public_data
        digest = base64.b64encode(hashlib.sha256(data).digest()).decode().rstrip("=")
        algorithm = key.get_algorithm()
        listed.append(
            AgentKey(
                bits=_bits(data),
                fingerprint=f"SHA256:{digest}",
                comment=key.get_comment() or "",
                kind=_TYPES.get(algorithm, algorithm.upper()),
            )
        )
    return listed
