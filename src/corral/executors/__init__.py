"""Executors: where a group's hosts run. In this process (None, the default), in a pool of
processes on this machine (`PoolExecutor`, `workers=N`), or on a Ray cluster (`RayExecutor`,
`corral[ray]`). The caller keeps the limits; only where each host's share runs changes.

`executor_for(config)` makes the one config `executor.kind` names (the CLI's `--executor`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, ExecutorError
from ..remote.executors import GroupExecutor
from .pool import PoolExecutor

if TYPE_CHECKING:
    from .ray import RayExecutor

KINDS = ("local", "pool", "ray")


def ray_executor(
    address: str = "auto", *, placement: str | None = "region", shards: int | None = None
) -> RayExecutor:
    """Return a RayExecutor; raise ExecutorError when Ray is not installed."""
    try:
        from .ray import RayExecutor
    except ImportError as exc:
        raise ExecutorError(
            f"ray executor: Ray cannot be imported ({exc}); install it with "
            "pip install 'corral[ray]'"
        ) from exc
    return RayExecutor(address, placement=placement, shards=shards)


def executor_for(config: Any) -> GroupExecutor | None:
    """Return the executor config `executor.*` asks for (None: in this process)."""
    kind = config.get("executor.kind") or "local"
    placement = config.get("executor.placement")
    if kind == "local":
        return None
    if kind == "pool":
        return PoolExecutor(int(config.get("executor.workers") or 2), placement=placement)
    if kind == "ray":
        return ray_executor(
            str(config.get("executor.ray_address") or "auto"),
            placement=placement,
            shards=config.get("executor.shards"),
        )
    raise ConfigError(f"executor.kind={kind!r}: expected one of {', '.join(KINDS)}")


__all__ = ["KINDS", "GroupExecutor", "PoolExecutor", "executor_for", "ray_executor"]
