"""`put` and `get`, the entry points: check the arguments, then hand a file, a tree or a
sudo upload to the module that does it."""

from __future__ import annotations

import io
import os
import sys
from typing import IO

from ...errors import ConfigError, TransferError
from ...result import TransferResult
from .download import _download, _download_into, _local_target, _placeholder_values
from .install import _put_sudo
from .paths import LocalPath, check_paths, expand_local, resolve_remote
from .session import Endpoint, _Refused, _result, _sftp, _translate
from .source import ProgressCallback, _absolute, _is_file_like, _is_local_dir, _Meter, _Source
from .tree import _get_tree, _make_parents, _put_tree
from .upload import _put_one

if sys.version_info >= (3, 11):
    from typing import TypedDict, Unpack
else:  # pragma: no cover
    from typing_extensions import TypedDict, Unpack


class PutKwargs(TypedDict, total=False):
    """Keyword options of `put` (defaults in brackets).

    recursive: upload a directory tree [False]; only_changed: skip files whose remote copy
    has the same size and sha256 [False]; progress: `progress(bytes_done, total)` [None];
    atomic: temp file + rename [True]; sudo: install as root [False]; owner: with sudo, the
    new file's owner [None]; mode: permission bits, over preserve_mode [None].
    """

    recursive: bool
    only_changed: bool
    progress: ProgressCallback | None
    atomic: bool
    sudo: bool
    owner: str | None
    mode: int | None


class GetKwargs(TypedDict, total=False):
    """Keyword options of `get`: recursive [False], progress [None]."""

    recursive: bool
    progress: ProgressCallback | None


async def put(
    end: Endpoint,
    local: LocalPath | IO[bytes],
    remote: str | None = None,
    preserve_mode: bool = True,
    **options: Unpack[PutKwargs],
) -> TransferResult:
    """Upload a local file (or a directory, with recursive=True) to the host, atomically.

    Args:
        remote: the remote file or directory, relative to cd() or the home directory; a
            directory (existing, or ending in `/`) receives the local file's name.
        preserve_mode: give the remote file the local file's permission bits.
        only_changed: skip files whose remote copy has the same size and sha256.
        progress: called as `progress(bytes_done, total)`; total is -1 when unknown.
        atomic: write a temp file and rename it over the target; False writes in place.
        sudo: move the file into place as root, from a private `mktemp -d` directory.
        owner, mode: with sudo, the new file's owner; `mode` overrides preserve_mode.
    """
    recursive = options.get("recursive", False)
    only_changed = options.get("only_changed", False)
    progress = options.get("progress")
    atomic = options.get("atomic", True)
    sudo = options.get("sudo", False)
    owner = options.get("owner")
    mode = options.get("mode")
    unknown = set(options) - set(PutKwargs.__annotations__)
    if unknown:
        raise TypeError(f"put() got unexpected keyword argument(s) {', '.join(sorted(unknown))}")
    check_paths(end.label, "put", local=local, remote=remote)
    file_like = _is_file_like(local)
    path = os.fspath(local) if isinstance(local, str | os.PathLike) else None
    if path is None and not file_like:
        raise ConfigError(f"put: local must be a path or a binary file object, not {local!r}")
    if path == "":
        raise ConfigError("put: the local path is empty")
    if file_like and not remote:
        raise ConfigError("put: give a remote path when local is a file-like object")
    if owner is not None and not sudo:
        raise ConfigError("put: owner= needs sudo=True")
    if recursive and path is not None and _is_local_dir(path):
        if sudo:
            raise ConfigError("put: recursive=True cannot be combined with sudo=True")
        return await _put_tree(
            end,
            path,
            remote,
            preserve_mode,
            only_changed=only_changed,
            progress=progress,
            atomic=atomic,
        )
    display = repr(local) if path is None else _absolute(path)
    with _translate(end, "put", display, remote or "~"):
        source = _Source.open(local, end.files)
    try:
        final_mode = mode if mode is not None else (source.mode if preserve_mode else None)
        if sudo:
            return await _put_sudo(
                end,
                source,
                local,
                remote,
                mode=final_mode,
                owner=owner,
                only_changed=only_changed,
                progress=progress,
            )
        return await _put_one(
            end,
            source,
            local,
            remote,
            mode=final_mode,
            only_changed=only_changed,
            progress=progress,
            atomic=atomic,
        )
    finally:
        source.close()


async def get(
    end: Endpoint,
    remote: str,
    local: LocalPath | IO[bytes] | None = None,
    preserve_mode: bool = True,
    **options: Unpack[GetKwargs],
) -> TransferResult:
    """Download a remote file (or a directory, with recursive=True) from the host.

    Args:
        local: a path, a directory (existing, or ending in the separator) that receives the
            remote name, or a binary file object; default: the remote name in the current
            directory. `{host}`, `{user}`, `{port}`, `{basename}` and `{dirname}` are filled
            in, and must not lead outside the directory written before the first of them.
        preserve_mode: give the local file the remote file's permission bits.
        progress: called as `progress(bytes_done, total)`.
    """
    recursive = options.get("recursive", False)
    progress = options.get("progress")
    unknown = set(options) - set(GetKwargs.__annotations__)
    if unknown:
        raise TypeError(f"get() got unexpected keyword argument(s) {', '.join(sorted(unknown))}")
    if not remote:
        raise ConfigError("get: the remote path is empty")
    check_paths(end.label, "get", local=local, remote=remote)
    host = end.label
    if local is not None and _is_file_like(local):
        if recursive:
            raise ConfigError("get: recursive=True needs a local directory, not a file object")
        if isinstance(local, io.TextIOBase):
            raise ConfigError(f"get: {local!r} must be opened in binary mode ('wb')")
        async with _sftp(end, "get", repr(local), remote) as sftp:
            with _translate(end, "get", repr(local), remote):
                path, _ = resolve_remote(remote, end.cwd, await sftp.realpath("."))
            with _translate(end, "get", repr(local), path):
                meter = _Meter(progress, -1)
                got = await _download_into(sftp, path, local, meter)  # type: ignore[arg-type]
                meter.finish()
        return _result(end, local, local, path, remote, True, got, 1)
    template = os.fspath(local) if isinstance(local, str | os.PathLike) and local else "{basename}"
    # Check the connection's values before connecting: a hostile alias must not get far.
    early = dict.fromkeys(("basename", "dirname"), "x")
    try:
        expand_local(template, {**_placeholder_values(end, remote), **early})
    except ValueError as exc:
        raise TransferError(host, f"cannot get: {exc}", local=template, remote=remote) from exc
    async with _sftp(end, "get", template, remote) as sftp:
        with _translate(end, "get", template, remote):
            path, _ = resolve_remote(remote, end.cwd, await sftp.realpath("."))
            target = _local_target(template, _placeholder_values(end, path))
        with _translate(end, "get", target, path):
            found = await sftp.stat(path)
            if found is None:
                raise _Refused(f"remote {path} does not exist")
            if found.kind == "dir" and not recursive:
                raise _Refused(f"remote {path} is a directory; pass recursive=True to download it")
            if found.kind not in ("dir", "file"):
                raise _Refused(f"remote {path} is not a regular file")
            _make_parents(target)
            meter = _Meter(progress, -1)
            if found.kind == "dir":
                got, files = await _get_tree(sftp, path, found.mode, target, preserve_mode, meter)
            else:
                got, files = (
                    await _download(sftp, path, target, preserve_mode=preserve_mode, meter=meter),
                    1,
                )
            meter.finish()
    return _result(end, target, local, path, remote, True, got, files)
