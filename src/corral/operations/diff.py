"""Unified diffs of what an operation changes in a file: secrets masked, binary files and
huge files summarised, the length bounded."""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable

from ..config.secret import secret_registry
from ..events import mask_secrets

#: Files larger than this (either side) are summarised, not diffed.
DIFF_MAX_BYTES = 1 << 20
#: Diff lines shown at most; the rest is counted.
DIFF_MAX_LINES = 2000


def is_binary(data: bytes) -> bool:
    """True when `data` is not text: a NUL byte, or not UTF-8."""
    if b"\0" in data:
        return True
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True
    return False


def _describe(data: bytes | None) -> str:
    if data is None:
        return "absent"
    return f"{len(data)} bytes, sha256 {hashlib.sha256(data).hexdigest()[:12]}"


def _lines(data: bytes) -> list[str]:
    lines = data.decode("utf-8").splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


def file_diff(
    label: str,
    before: bytes | None,
    after: bytes | None,
    *,
    secrets: Iterable[str] = (),
) -> str | None:
    """Return a unified diff of a file's content before and after (None when they are equal).

    `label` names the file (`web1:/etc/app.conf`); None on a side means the file is absent
    there. Binary content (or a side over 1 MiB) is summarised by size and checksum. Every
    value in `secrets`, and every secret registered with corral, is masked.
    """
    if before == after:
        return None
    sides = [side for side in (before, after) if side is not None]
    if any(is_binary(side) for side in sides) or any(len(s) > DIFF_MAX_BYTES for s in sides):
        kind = "Binary file" if any(is_binary(side) for side in sides) else "Large file"
        return f"{kind} {label} differs: {_describe(before)} -> {_describe(after)}\n"
    lines = list(
        difflib.unified_diff(
            _lines(before or b""),
            _lines(after or b""),
            fromfile=f"{label} (before)" if before is not None else "/dev/null",
            tofile=f"{label} (after)" if after is not None else "/dev/null",
        )
    )
    if len(lines) > DIFF_MAX_LINES:
        more = len(lines) - DIFF_MAX_LINES
        lines = [*lines[:DIFF_MAX_LINES], f"... ({more} more diff lines not shown)\n"]
    text = "".join(lines)
    return secret_registry.mask(mask_secrets(text, secrets))
