"""The SFTP session of one transfer and its errors: opening (with one reconnect), turning
failures into errors naming the host and both paths, bounded cleanup, and the result."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import TYPE_CHECKING, Any

from ...errors import ConnectionLost, CorralError, TransferError
from ...result import TransferResult
from ...transport.sftp import CLEANUP_TIMEOUT, RemotePathError, SFTPSession, quiet_dead_socket
from ...transport.ssh import TransportClosed

if TYPE_CHECKING:
    from ..connection import Connection

log = logging.getLogger("corral.transfer")


class _Refused(Exception):
    """A transfer cannot go on; the message says why (turned into a TransferError)."""


@contextlib.asynccontextmanager
async def _sftp(conn: Connection, verb: str, local: str, remote: str) -> AsyncIterator[SFTPSession]:
    """Open an SFTP channel on the connection, reconnecting once if it had dropped."""
    with _translate(conn, verb, local, remote):
        for attempt in (1, 2):
            transport = await conn._ensure_open()
            try:
                session = await SFTPSession.start(transport)
                break
            except TransportClosed as exc:
                if attempt == 2:
                    raise ConnectionLost(conn.original_host, f"connection closed ({exc})") from None
    with quiet_dead_socket():
        try:
            yield session
        finally:
            await session.close()


def _local_reason(exc: OSError) -> str:
    where = f"local {exc.filename}" if exc.filename else "local file"
    if isinstance(exc, FileNotFoundError):
        return f"{where} does not exist"
    if isinstance(exc, PermissionError):
        return f"{where}: permission denied"
    if exc.errno == errno.ENOSPC:
        return f"{where}: no space left on device"
    return f"{where}: {exc.strerror or exc}"


@contextlib.contextmanager
def _translate(conn: Connection, verb: str, local: str, remote: str) -> Iterator[None]:
    """Turn what went wrong during a transfer into an error naming the host and both paths."""
    host = conn.original_host
    try:
        yield
    except ConnectionLost as exc:
        route = f"{local} -> {remote}" if verb == "put" else f"{remote} -> {local}"
        raise ConnectionLost(host, f"{exc.reason}; {verb} {route} did not finish") from None
    except CorralError:
        raise
    except _Refused as exc:
        raise TransferError(host, f"cannot {verb}: {exc}", local=local, remote=remote) from None
    except RemotePathError as exc:
        where = f"remote {exc.path}: " if exc.path else ""
        raise TransferError(
            host, f"cannot {verb}: {where}{exc.reason}", local=local, remote=remote
        ) from None
    except OSError as exc:
        raise TransferError(
            host, f"cannot {verb}: {_local_reason(exc)}", local=local, remote=remote
        ) from None


async def _bounded(awaitable: Awaitable[Any]) -> None:
    with contextlib.suppress(Exception, asyncio.TimeoutError):
        await asyncio.wait_for(awaitable, CLEANUP_TIMEOUT)


async def _discard(conn: Connection, sftp: SFTPSession, path: str) -> None:
    """Remove a temp file after a failure, through a new connection if the old one died."""
    try:
        await asyncio.wait_for(sftp.remove(path), CLEANUP_TIMEOUT)
        return
    except RemotePathError:
        return  # never created, or already gone
    except (ConnectionLost, asyncio.TimeoutError):
        pass
    except Exception:  # cleanup must not hide the error that brought us here
        log.debug("%s: could not remove %s", conn.original_host, path, exc_info=True)
        return

    async def again() -> None:
        async with _sftp(conn, "clean up", path, path) as fresh:
            await fresh.remove(path)

    await _bounded(again())


def _result(
    conn: Connection,
    local: Any,
    orig_local: Any,
    remote: str,
    orig_remote: str | None,
    changed: bool,
    sent: int,
    files: int,
) -> TransferResult:
    return TransferResult(
        local=local,
        orig_local=orig_local,
        remote=remote,
        orig_remote=orig_remote,
        connection=conn._public,
        host=conn.original_host,
        changed=changed,
        bytes=sent,
        files=files,
    )
