"""What a transfer needs from its connection (`Endpoint`), the SFTP session of one transfer,
and its errors: turning failures into errors naming the host and both paths, bounded cleanup,
and the result."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ...errors import ConnectionLost, CorralError, LocalFileNotFoundError, TransferError
from ...result import Result, TransferResult
from ...runner.cancel import finish
from ...runner.command import Command
from ...transport.sftp import CLEANUP_TIMEOUT, RemotePathError, SFTPSession, quiet_dead_socket
from .pool import SharedFiles, TransferPool

log = logging.getLogger("corral.transfer")


@dataclass(frozen=True)
class Endpoint:
    """The remote end of a transfer: what the connection hands a transfer, and nothing more.

    `run` and `sudo` run helper commands (hashes, `mktemp -d`, the sudo install script, a
    validate command): output hidden, failures returned, stdin closed, under the caller's
    cd() and prefix() but not its `run.*` settings (pty, env, shell).
    """

    label: str  # the host as the user named it, for messages
    host: str
    user: str
    port: int
    cwd: str | None
    open_sftp: Callable[[], Awaitable[SFTPSession]]  # reconnects once if the link dropped
    run: Callable[[Command], Awaitable[Result]]
    sudo: Callable[[str], Awaitable[Result]]
    #: a helper that runs even after an interrupt (removing what a stopped transfer left)
    clean: Callable[[Command], Awaitable[Result]]
    #: what the transfers of a group call share (memory budget, local files); None alone
    pool: TransferPool | None = None

    @property
    def files(self) -> SharedFiles | None:
        """The local files shared with the group's other uploads, if in a group call."""
        return self.pool.files if self.pool is not None else None


class _Refused(Exception):
    """A transfer cannot go on; the message says why (turned into a TransferError)."""


@contextlib.asynccontextmanager
async def _sftp(end: Endpoint, verb: str, local: str, remote: str) -> AsyncIterator[SFTPSession]:
    """Open an SFTP channel on the connection; close it when the block ends."""
    with _translate(end, verb, local, remote):
        session = await end.open_sftp()
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
def _translate(end: Endpoint, verb: str, local: str, remote: str) -> Iterator[None]:
    """Turn what went wrong during a transfer into an error naming the host and both paths."""
    host = end.label
    try:
        yield
    except ConnectionLost as exc:
        route = f"{local} -> {remote}" if verb == "put" else f"{remote} -> {local}"
        raise ConnectionLost(host, f"{exc.reason}; {verb} {route} did not finish") from exc
    except CorralError:
        raise
    except _Refused as exc:
        raise TransferError(host, f"cannot {verb}: {exc}", local=local, remote=remote) from exc
    except RemotePathError as exc:
        where = f"remote {exc.path}: " if exc.path else ""
        raise TransferError(
            host, f"cannot {verb}: {where}{exc.reason}", local=local, remote=remote
        ) from exc
    except FileNotFoundError as exc:
        if verb != "put":
            raise TransferError(
                host, f"cannot {verb}: {_local_reason(exc)}", local=local, remote=remote
            ) from exc
        # also a FileNotFoundError: Fabric's callers catch that (put reads a local file)
        raise LocalFileNotFoundError(
            host, f"cannot put: {_local_reason(exc)}", local=local, remote=remote
        ) from exc
    except OSError as exc:
        raise TransferError(
            host, f"cannot {verb}: {_local_reason(exc)}", local=local, remote=remote
        ) from exc


async def _bounded(awaitable: Awaitable[Any]) -> bool:
    """Await cleanup within CLEANUP_TIMEOUT, to the end even through a repeated cancel;
    True when it succeeded. Its failure never hides the error that brought us here."""

    async def attempt() -> bool:
        with contextlib.suppress(Exception, asyncio.TimeoutError):
            await asyncio.wait_for(awaitable, CLEANUP_TIMEOUT)
            return True
        return False

    return await finish(attempt())


async def _discard(end: Endpoint, sftp: SFTPSession, path: str) -> None:
    """Remove a temp file after a failure or an interrupt, through a new connection if the old
    one died; when that cannot be done, say which file is left."""

    async def remove() -> bool:
        try:
            await asyncio.wait_for(sftp.remove(path), CLEANUP_TIMEOUT)
            return True
        except RemotePathError as exc:
            return exc.errno == errno.ENOENT  # never created, or already gone
        except (ConnectionLost, asyncio.TimeoutError):
            pass
        except Exception:
            return False

        async def again() -> None:
            async with _sftp(end, "clean up", path, path) as fresh:
                try:
                    await fresh.remove(path)
                except RemotePathError as exc:
                    if exc.errno != errno.ENOENT:
                        raise

        return await _bounded(again())

    if not await finish(remove()):
        log.warning("%s: could not remove the temp file %s; remove it by hand", end.label, path)


def _result(
    end: Endpoint,
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
        host=end.label,
        changed=changed,
        bytes=sent,
        files=files,
    )
