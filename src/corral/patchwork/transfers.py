"""`rsync` (patchwork's), on corral's: the connection's user, port, keys, known_hosts and
gateways, and a result saying what changed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["rsync"]


def rsync(
    c: Any,
    source: str,
    target: str,
    exclude: str | Iterable[str] = (),
    delete: bool = False,
    strict_host_keys: bool = True,
    rsync_opts: str = "",
    ssh_opts: str = "",
) -> Any:
    """Copy `source` here to `target` on the host with rsync (`-pthrvz`, patchwork's options;
    `--delete` with delete=True); return corral's RsyncResult (patchwork returned the local
    command's Result)."""
    excludes = [exclude] if isinstance(exclude, str) else list(exclude)
    ssh = ssh_opts
    if not strict_host_keys and "StrictHostKeyChecking" not in ssh:
        ssh = f"{ssh} -o StrictHostKeyChecking=no".strip()
    return c.rsync(
        source,
        target,
        delete=delete,
        exclude=excludes,
        rsync_opts=f"-pthrvz {rsync_opts}".strip(),
        ssh_opts=ssh,
        archive=False,
    )
