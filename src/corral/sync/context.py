"""The blocking `Context`: each method one call onto the portal's loop."""

from __future__ import annotations

from ..config import Config
from ..runner.context import Context as AsyncContext
from .facade import Runner


class Context(Runner, core=AsyncContext):
    """Run commands on this machine, with the options of `Connection.run` (blocking twin)."""

    _async: AsyncContext

    def __init__(self, config: Config | None = None) -> None:
        self._adopt(AsyncContext(config))

    def __repr__(self) -> str:
        return repr(self._async)


__all__ = ["Context"]
