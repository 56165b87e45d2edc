"""Parsing host strings: `host`, `user@host`, `user@host:port`, `[v6addr]:port`."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import InvalidHostError

# Letters, digits and the punctuation of names, IPv4/IPv6 addresses and scoped zones.
_HOST = re.compile(r"[A-Za-z0-9_.:%-]+\Z")
_USER = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.@+-]*\Z")


@dataclass(frozen=True)
class HostSpec:
    """A parsed host string; None for parts it did not give."""

    host: str
    user: str | None = None
    port: int | None = None


def parse_port(value: object, source: str) -> int:
    """Return a TCP port number, or raise InvalidHostError naming where it came from."""
    try:
        port = int(str(value))
    except ValueError:
        port = -1
    if not 0 < port < 65536:
        raise InvalidHostError(f"{source}: port {value!r} is not a number from 1 to 65535")
    return port


def parse_host_string(text: str) -> HostSpec:
    """Split a host string into host, user and port, rejecting anything a shell could abuse."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidHostError(f"host {text!r} is empty; expected host, user@host or host:port")
    raw = text
    user: str | None = None
    if "@" in text:
        user, _, text = text.rpartition("@")
        if not _USER.match(user):
            raise InvalidHostError(f"host {raw!r}: user {user!r} is not a valid user name")
    port: int | None = None
    if text.startswith("["):
        address, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise InvalidHostError(f"host {raw!r}: expected [address]:port")
        if rest:
            port = parse_port(rest[1:], f"host {raw!r}")
        text = address
    elif text.count(":") == 1:
        text, _, port_text = text.partition(":")
        port = parse_port(port_text, f"host {raw!r}")
    # more than one colon and no brackets: a bare IPv6 address, no port
    if not text or text.startswith("-") or not _HOST.match(text):
        raise InvalidHostError(
            f"host {raw!r}: {text!r} is not a valid host name or address "
            "(letters, digits, '.', '-', ':' only)"
        )
    return HostSpec(host=text, user=user, port=port)
