"""`Program`: a command line like `corral`'s for a program built on corral (Invoke's Program,
Fabric's Fab): its own name and version, a collection of its own (`namespace`), an Executor
or Config subclass, options of its own (`core_args`), and a hook on the config
(`update_config`).

```python
from corral import Collection, Config
from corral.program import Program

program = Program(name="shipit", version="1.2", namespace=Collection.from_module(tasks),
                  executor_class=RoleExecutor, config_class=ShipitConfig)
program.run()          # the setuptools entry point: shipit = mypkg.cli:program.run
```

`program.config`, `program.args` (the options' values, by name: `program.args.hosts.value`)
and `program.core` (Invoke's ParseResult, also `Executor.core`) are set before
`update_config()` runs. Invoke's other Program methods (parse_core, load_collection, ...)
are not called: corral parses with click.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from ..config import Config
from ..tasks.collection import Collection
from ..tasks.executor import Executor
from .arguments import Argument, Arguments, ParseResult
from .main import CorralGroup

__all__ = ["Program"]


class Program:
    """A command line like `corral`'s, for a program built on corral (Invoke's Program)."""

    def __init__(
        self,
        version: str | None = None,
        namespace: Collection | None = None,
        name: str | None = None,
        binary: str | None = None,
        loader_class: type | None = None,
        executor_class: type[Executor] | None = None,
        config_class: type[Config] | None = None,
        binary_names: Sequence[str] | None = None,
    ) -> None:
        self.version = version or "unknown"
        self.namespace = namespace
        self._name = name
        self._binary = binary
        self.binary_names = list(binary_names or [])
        #: Accepted for Invoke's signature: corral finds the corralfile (or uses `namespace`).
        self.loader_class = loader_class
        self.executor_class: type[Executor] = executor_class or Executor
        self.config_class: type[Config] = config_class or Config
        self.argv: list[str] = []
        #: Set before `update_config` runs: the run's Config, the options, the parse.
        self.config: Config = self.config_class()
        self.args = Arguments()
        self.core: ParseResult | None = None
        self.collection: Collection | None = namespace

    @property
    def binary(self) -> str:
        """The program's command name (from argv[0] when not given)."""
        if self._binary:
            return self._binary
        return os.path.basename(self.argv[0]) if self.argv else "corral"

    @property
    def name(self) -> str:
        """The program's name, for --version and help (its binary when not given)."""
        return self._name or self.binary

    def core_args(self) -> list[Argument]:
        """Return the options this program adds to corral's (override it; each becomes a
        flag before the task names, its value in `self.args` after parsing)."""
        return []

    def update_config(self, merge: bool = True) -> None:
        """Change `self.config` after it is built from every level (override it: e.g.
        `self.config.load_overrides({...})`); it runs before any task."""

    def print_version(self) -> None:
        """Print the program's name and version (--version)."""
        print(f"{self.name} {self.version}")

    def command(self) -> CorralGroup:
        """Return the click command of this program."""
        return CorralGroup(program=self)

    def run(self, argv: str | Sequence[str] | None = None, exit: bool = True) -> int:
        """Run the command line (`sys.argv` when not given; a string is split on spaces);
        exit with its status (exit=False: return it)."""
        if argv is None:
            argv = sys.argv
        self.argv = argv.split() if isinstance(argv, str) else list(argv)
        status = self.command().main(self.argv[1:], prog_name=self.binary, standalone_mode=False)
        if exit and status:
            sys.exit(status)
        return status

    def __repr__(self) -> str:
        return f"<Program {self.name} {self.version}>"
