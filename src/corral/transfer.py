"""`fabric.transfer`: `Transfer` (put and get through a Connection, as Fabric's) and its
`Result` (corral's TransferResult)."""

from __future__ import annotations

from typing import IO, Any

from .remote.transfer import LocalPath
from .result import TransferResult
from .sync.connection import Connection
from .sync.sftp_client import SFTPClient

Result = TransferResult

__all__ = ["Result", "Transfer"]


class Transfer:
    """Fabric's transfer helper: `Transfer(c).put(...)` is `c.put(...)` (atomic, checked)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    @property
    def sftp(self) -> SFTPClient:
        """The connection's SFTP client."""
        return self.connection.sftp()

    def put(
        self,
        local: LocalPath | IO[bytes],
        remote: str | None = None,
        preserve_mode: bool = True,
        **kwargs: Any,
    ) -> TransferResult:
        """Upload a file (see `Connection.put`)."""
        return self.connection.put(local, remote, preserve_mode, **kwargs)

    def get(
        self,
        remote: str,
        local: LocalPath | IO[bytes] | None = None,
        preserve_mode: bool = True,
        **kwargs: Any,
    ) -> TransferResult:
        """Download a file (see `Connection.get`)."""
        return self.connection.get(remote, local, preserve_mode, **kwargs)
