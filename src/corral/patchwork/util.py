"""`set_runner`: how patchwork's helpers choose between `c.run` and `c.sudo`."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

__all__ = ["set_runner"]


def set_runner(function: Callable[..., Any]) -> Callable[..., Any]:
    """Call `function(c, runner, *args)` with the runner its caller chose: `runner=` (a
    callable), else `runner_method=` (a method name of c), else `sudo=True` (c.sudo), else
    c.run. The three keywords are not passed on."""

    @functools.wraps(function)
    def chosen(c: Any, *args: Any, **kwargs: Any) -> Any:
        runner = kwargs.pop("runner", None)
        sudo = kwargs.pop("sudo", False)
        method = kwargs.pop("runner_method", None)
        if not runner:
            runner = getattr(c, method or ("sudo" if sudo else "run"))
        return function(c, runner, *args, **kwargs)

    return chosen
