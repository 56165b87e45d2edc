"""`fabric.connection`'s names, for fabfiles that import them from there: `Connection`,
`Config`, `derive_shorthand`."""

from __future__ import annotations

from typing import Any

from .config import Config
from .sync.connection import Connection
from .transport.hoststring import parse_host_string

__all__ = ["Config", "Connection", "derive_shorthand"]


def derive_shorthand(host_string: str) -> dict[str, Any]:
    """Split `user@host:port` into Fabric's dict: user, host, port (None where not given)."""
    spec = parse_host_string(host_string)
    return {"user": spec.user, "host": spec.host, "port": spec.port}
