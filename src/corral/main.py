"""`fabric.main` and `invoke.main`: `Program`, `Fab` (Fabric's name for it), `program` (the
`corral` command as a Program) and `make_program`."""

from __future__ import annotations

from . import __version__
from .cli.program import Program
from .config import Config
from .tasks.executor import Executor

__all__ = ["Fab", "Program", "make_program", "program"]


class Fab(Program):
    """Fabric's Program (`fabric.main.Fab`): a Program; subclass it as Fabric's docs show."""


def make_program() -> Fab:
    """Return the `corral` command as a Program."""
    return Fab(
        name="corral",
        binary="corral",
        version=__version__,
        executor_class=Executor,
        config_class=Config,
    )


program = make_program()
