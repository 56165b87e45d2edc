"""Uploading one file as the login user: an unguessable temp file beside the target,
filled, fsynced and renamed over it; symlinks likewise; sha256 checks for only_changed."""

from __future__ import annotations

import asyncio
import errno
import hashlib
import posixpath
import secrets
import shlex
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ...errors import ConfigError, ValidationError
from ...result import Result, TransferResult
from ...runner.cancel import finish
from ...transport.sftp import RemoteFile, RemotePathError, RemoteStat, SFTPSession
from .paths import parse_sha256sum, resolve_remote, temp_name
from .session import Endpoint, _discard, _Refused, _result, _sftp, _translate
from .source import ProgressCallback, _Meter, _Source

#: Paths per `sha256sum` command when comparing many files.
HASH_BATCH = 200


def _token() -> str:
    return secrets.token_hex(8)


async def _create_temp(
    end: Endpoint, sftp: SFTPSession, directory: str, name: str, mode: int | None
) -> tuple[str, RemoteFile]:
    """Create an unguessable temp file in `directory`; a name someone else holds is skipped."""
    for attempt in range(3):
        path = posixpath.join(directory, temp_name(name, _token()))
        try:
            # 0600 while it fills when a final mode follows; else the server's default
            return path, await sftp.create(path, 0o600 if mode is not None else 0o666)
        except RemotePathError as exc:
            if exc.errno == errno.EACCES:
                raise _Refused(f"remote directory {directory} is not writable") from exc
            if exc.errno != errno.EEXIST or attempt == 2:
                raise
        except BaseException:
            # cancelled (Ctrl-C) after the server made the file, before we heard it did
            await _discard(end, sftp, path)
            raise
    raise AssertionError("unreachable")


async def _fill(file: RemoteFile, source: _Source, mode: int | None, meter: _Meter) -> int:
    """Stream `source` into an open remote file, set its mode, fsync and close it."""
    try:
        sent = await file.write_from(source.read, meter)
        if mode is not None:
            await file.chmod(mode)
        await file.fsync()
    except BaseException:
        await finish(file.abort())
        raise
    await file.close()
    return sent


async def _check_parent(sftp: SFTPSession, target: str) -> None:
    directory = posixpath.dirname(target) or "/"
    parent = await sftp.stat(directory)
    if parent is None:
        raise _Refused(f"remote directory {directory} does not exist")
    if parent.kind != "dir":
        raise _Refused(f"remote {directory} is not a directory")


async def _put_file(
    end: Endpoint,
    sftp: SFTPSession,
    source: _Source,
    target: str,
    *,
    mode: int | None,
    atomic: bool,
    meter: _Meter,
    existing: RemoteStat | None,
    before_rename: Callable[[str], Awaitable[None]] | None = None,
) -> int:
    """Write `source` to `target` (through a temp file when atomic); return the bytes sent."""
    if existing is not None and existing.kind == "dir":
        raise _Refused(f"remote {target} is a directory")
    if mode is None and existing is not None and existing.kind == "file":
        mode = existing.mode  # replacing a file keeps its mode, as writing in place would
    if not atomic:
        return await _fill(await sftp.open_write(target), source, mode, meter)
    directory, name = posixpath.split(target)
    temp, file = await _create_temp(end, sftp, directory or "/", name, mode)
    try:
        sent = await _fill(file, source, mode, meter)
        if before_rename is not None:
            await before_rename(temp)
        await sftp.rename(temp, target)
    except BaseException:
        await _discard(end, sftp, temp)
        raise
    return sent


async def _put_link(
    end: Endpoint, sftp: SFTPSession, link: str, path: str, existing: RemoteStat | None
) -> bool:
    """Make `path` a symlink to `link` (atomically replacing a file or link); True if changed."""
    if existing is not None:
        if existing.kind == "link" and await sftp.readlink(path) == link:
            return False
        if existing.kind == "dir":
            raise _Refused(f"remote {path} is a directory, local is a symlink")
    directory, name = posixpath.split(path)
    temp = posixpath.join(directory, temp_name(name, _token()))
    await sftp.symlink(link, temp)
    try:
        await sftp.rename(temp, path)
    except BaseException:
        await _discard(end, sftp, temp)
        raise
    return True


async def _remote_hashes(end: Endpoint, sftp: SFTPSession, paths: Sequence[str]) -> dict[str, str]:
    """Return the sha256 of remote files: by `sha256sum`, else by reading them over SFTP."""
    hashes: dict[str, str] = {}
    for start in range(0, len(paths), HASH_BATCH):
        result: Result = await end.run(
            ["sha256sum", "-z", "--", *paths[start : start + HASH_BATCH]]
        )
        hashes.update(parse_sha256sum(result.stdout_bytes))
    for path in paths:
        if path in hashes:
            continue
        digest = hashlib.sha256()

        async def update(data: bytes, digest: Any = digest) -> None:
            digest.update(data)

        try:
            file = await sftp.open_read(path)
            try:
                await file.read_into(update, (await file.stat()).size)
            finally:
                await file.abort()
        except RemotePathError:
            continue  # unreadable: counts as different
        hashes[path] = digest.hexdigest()
    return hashes


async def _unchanged(
    end: Endpoint, sftp: SFTPSession, candidates: Sequence[tuple[str, Callable[[], str]]]
) -> set[str]:
    """Return the remote paths whose sha256 equals that of their local side."""
    if not candidates:
        return set()
    remote = await _remote_hashes(end, sftp, [path for path, _ in candidates])
    return {
        path
        for path, local_hash in candidates
        if path in remote and remote[path] == await asyncio.to_thread(local_hash)
    }


async def _put_target(
    sftp: SFTPSession, end: Endpoint, remote: str | None, name: str | None
) -> str:
    """Resolve where a file goes: a directory target gets the local name appended."""
    target, wants_dir = resolve_remote(remote, end.cwd, await sftp.realpath("."))
    found = await sftp.stat(target)
    if wants_dir or (found is not None and found.kind == "dir"):
        if found is None:
            raise _Refused(f"remote directory {target} does not exist")
        if found.kind != "dir":
            raise _Refused(f"remote {target} is not a directory")
        if not name:
            raise ConfigError(
                f"put: a file-like object without a name cannot go into directory {target}; "
                "give the full remote file path"
            )
        target = posixpath.join(target, name)
    return target


async def _put_one(
    end: Endpoint,
    source: _Source,
    orig_local: Any,
    remote: str | None,
    *,
    mode: int | None,
    only_changed: bool,
    progress: ProgressCallback | None,
    atomic: bool,
    validate: str | None = None,
) -> TransferResult:
    """Upload one file through SFTP as the login user."""
    local_value: Any = source.display if source.owned else source.file
    target = remote or "~"
    async with _sftp(end, "put", source.display, target) as sftp:
        with _translate(end, "put", source.display, target):
            target = await _put_target(sftp, end, remote, source.name)
        with _translate(end, "put", source.display, target):
            await _check_parent(sftp, target)
            existing = await sftp.lstat(target)
            if (
                only_changed
                and existing is not None
                and existing.kind == "file"
                and existing.size == source.size
                and await _unchanged(end, sftp, [(target, source.sha256)])
            ):
                changed = mode is not None and existing.mode != mode
                if mode is not None and changed:
                    await sftp.chmod(target, mode)
                return _result(end, local_value, orig_local, target, remote, changed, 0, 0)

            async def check(path: str) -> None:
                assert validate is not None
                result = await end.run(validate.replace("{path}", shlex.quote(path)))
                if not result.ok:
                    raise ValidationError(result, local=source.display, remote=target)

            meter = _Meter(progress, source.size if source.size is not None else -1)
            sent = await _put_file(
                end,
                sftp,
                source,
                target,
                mode=mode,
                atomic=atomic,
                meter=meter,
                existing=existing,
                before_rename=check if validate else None,
            )
            meter.finish()
    return _result(end, local_value, orig_local, target, remote, True, sent, 1)
