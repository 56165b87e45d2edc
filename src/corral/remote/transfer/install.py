"""Uploads with sudo: the file is staged in a private `mktemp -d` directory as the login
user, then a root shell script validates it and moves it into place atomically."""

from __future__ import annotations

import logging
import posixpath
import shlex
from typing import Any

from ...errors import ValidationError
from ...result import Result, TransferResult
from .paths import resolve_remote
from .session import Endpoint, _bounded, _Refused, _result, _sftp, _translate
from .source import ProgressCallback, _Meter, _Source
from .upload import _fill

log = logging.getLogger("corral.transfer")


def install_script(
    staged: str,
    target: str,
    name: str,
    *,
    into_directory: bool,
    mode: int | None = None,
    owner: str | None = None,
    only_changed: bool = False,
    validate: str | None = None,
) -> str:
    """Return the shell script that root runs to move a staged upload into place atomically.

    A directory target gets `name` appended. The new file is written to a `mktemp` name
    next to the target, given the old file's owner and mode (or `owner`/`mode`), validated,
    and renamed over the target. Output lines starting `corral:` report what happened; exit
    status 3 means the directory is missing, 4 that validation failed.
    """
    q = shlex.quote
    lines = ["set -eu", f"src={q(staged)}"]
    missing = 'echo "corral:no-directory" >&2; exit 3'
    if name:
        lines.append(
            f"if [ -d {q(target)} ]; then dst={q(posixpath.join(target, name))}; "
            f"dir={q(target)}; echo corral:into-directory; "
            + (
                f"else {missing}; fi"
                if into_directory
                else f"else dst={q(target)}; dir={q(posixpath.dirname(target) or '/')}; fi"
            )
        )
    else:
        lines.append(f"dst={q(target)}; dir={q(posixpath.dirname(target) or '/')}")
    lines.append(f'[ -d "$dir" ] || {{ {missing}; }}')
    if only_changed:
        same = ['[ -f "$dst" ]', 'cmp -s -- "$src" "$dst"']
        if mode is not None:
            same.append(f'[ "$(stat -c %a -- "$dst")" = {mode:o} ]')
        if owner is not None:
            fmt = "%U:%G" if ":" in owner else "%U"
            same.append(f'[ "$(stat -c {fmt} -- "$dst")" = {q(owner)} ]')
        lines.append(f"if {' && '.join(same)}; then echo corral:unchanged; exit 0; fi")
    lines += [
        'tmp=$(mktemp -- "$dir/.corral-XXXXXXXXXXXX")',
        "trap 'rm -f -- \"$tmp\"' EXIT",
        'cat -- "$src" > "$tmp"',
        'if [ -e "$dst" ]; then chown --reference="$dst" -- "$tmp"; '
        'chmod --reference="$dst" -- "$tmp"; '
        'else m=$(umask); chmod "$(printf %o $((0666 & ~m)))" -- "$tmp"; fi',
    ]
    if owner is not None:
        lines.append(f'chown -- {q(owner)} "$tmp"')
    if mode is not None:
        lines.append(f'chmod -- {mode:o} "$tmp"')
    if validate is not None:
        check = validate.replace("{path}", '"$tmp"')
        lines.append(
            f"rc=0; ( {check}\n) || rc=$?; "  # a subshell: its `exit` is not ours
            'if [ "$rc" -ne 0 ]; then echo "corral:invalid:$rc" >&2; exit 4; fi'
        )
    lines += ['mv -fT -- "$tmp" "$dst"', "trap - EXIT"]
    return "\n".join(lines) + "\n"


def _without_markers(data: bytes) -> bytes:
    return b"".join(
        line for line in data.splitlines(keepends=True) if not line.startswith(b"corral:")
    )


async def _put_sudo(
    end: Endpoint,
    source: _Source,
    orig_local: Any,
    remote: str | None,
    *,
    mode: int | None,
    owner: str | None,
    only_changed: bool,
    progress: ProgressCallback | None,
    validate: str | None = None,
) -> TransferResult:
    """Upload to a private directory as the login user, then install the file as root."""
    local_value: Any = source.display if source.owned else source.file
    target = remote or "~"
    async with _sftp(end, "put", source.display, target) as sftp:
        with _translate(end, "put", source.display, target):
            target, into_directory = resolve_remote(remote, end.cwd, await sftp.realpath("."))
            made = await end.run(["mktemp", "-d", "-t", "corral-XXXXXXXXXX"])
            staging = made.stdout.strip()
            if not made.ok or not staging.startswith("/") or "\n" in staging:
                raise _Refused(f"mktemp -d failed on the host: {made.stderr.strip()}")
        try:
            with _translate(end, "put", source.display, target):
                meter = _Meter(progress, source.size if source.size is not None else -1)
                sent = await _fill(
                    await sftp.create(posixpath.join(staging, "upload"), 0o600),
                    source,
                    None,
                    meter,
                )
                script = install_script(
                    posixpath.join(staging, "upload"),
                    target,
                    source.name or "",
                    into_directory=into_directory,
                    mode=mode,
                    owner=owner,
                    only_changed=only_changed,
                    validate=validate,
                )
                result = await end.sudo(script)
                if result.stdout.startswith("corral:into-directory") and source.name:
                    target = posixpath.join(target, source.name)
                if result.exited == 3:
                    missing = target if into_directory else posixpath.dirname(target)
                    raise _Refused(f"remote directory {missing} does not exist")
                if result.exited == 4 and validate is not None:
                    marker = result.stderr.rsplit("corral:invalid:", 1)[-1].split()[0]
                    checked = Result(
                        command=validate,
                        exited=int(marker) if marker.isdigit() else 1,
                        host=end.label,
                        stdout_bytes=_without_markers(result.stdout_bytes),
                        stderr_bytes=_without_markers(result.stderr_bytes),
                    )
                    raise ValidationError(checked, local=source.display, remote=target)
                if not result.ok:
                    tail = result.stderr.strip().splitlines()[-3:]
                    raise _Refused(f"installing as root failed: {' / '.join(tail)}")
                meter.finish()
        finally:
            if not await _bounded(end.clean(["rm", "-rf", "--", staging])):
                log.warning("%s: could not remove %s; remove it by hand", end.label, staging)
    changed = "corral:unchanged" not in result.stdout
    return _result(end, local_value, orig_local, target, remote, changed, sent, 1 if changed else 0)
