"""Invoke's parser objects, for programs built on corral: `Argument` (an option a Program
adds), `ParserContext` and `ParseResult` (what `Executor.core` and `Program.core` hold).

corral parses with click; these carry what it parsed in the shapes Fabric-style code reads
(`program.args.hosts.value`, `executor.core[0].args.hosts.value`, `core.remainder`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import UnsupportedError

#: The kinds of value an Argument takes (Invoke's).
KINDS = (str, int, float, bool, list)


class Argument:
    """A command-line option: its names (`("H", "hosts")`), the kind of value, a default and
    help; after parsing, `value` (Invoke's Argument)."""

    def __init__(
        self,
        name: str | None = None,
        names: Iterable[str] = (),
        kind: Any = str,
        default: Any = None,
        help: str | None = None,
        positional: bool = False,
        optional: bool = False,
        incrementable: bool = False,
        attr_name: str | None = None,
    ) -> None:
        given = tuple(names)
        if name and given:
            raise TypeError("Argument: give name or names, not both")
        if not name and not given:
            raise TypeError("Argument: give a name (or names)")
        if kind not in KINDS:
            raise TypeError(
                f"Argument {name or given[0]}: kind must be one of str, int, float, bool, list"
            )
        self.names = given or (str(name),)
        self.kind = kind
        self.default = [] if kind is list and default is None else default
        self.help = help
        self.positional = positional
        self.optional = optional
        self.incrementable = incrementable
        self.attr_name = attr_name
        self.raw_value: Any = None
        self._value: Any = None

    @property
    def name(self) -> str:
        """The argument's name: `attr_name`, else its first name."""
        return self.attr_name or self.names[0]

    @property
    def takes_value(self) -> bool:
        """True unless the argument is a flag (kind bool) or counted."""
        return self.kind is not bool and not self.incrementable

    @property
    def value(self) -> Any:
        """The parsed value, or the default when it was not given."""
        return self._value if self._value is not None else self.default

    @value.setter
    def value(self, value: Any) -> None:
        self.raw_value = value
        self._value = value

    @property
    def got_value(self) -> bool:
        """True when the command line gave it."""
        return self._value is not None

    def set_value(self, value: Any, cast: bool = True) -> None:
        """Set the value (cast to the kind, as Invoke does, unless `cast` is false)."""
        if cast and value is not None and self.kind in (int, float) and not isinstance(value, bool):
            value = self.kind(value)
        self.value = value

    def __repr__(self) -> str:
        return f"<Argument {'/'.join(self.names)} = {self.value!r}>"


class Arguments(dict[str, Argument]):
    """Arguments by every one of their names, read as items or attributes (`args.hosts`,
    `args["ssh-config"]`, `args.ssh_config`)."""

    def add(self, argument: Argument) -> None:
        """File `argument` under each of its names (dashes and underscores alike)."""
        for name in (*argument.names, argument.name):
            self[name] = argument
            self[name.replace("-", "_")] = argument
            self[name.replace("_", "-")] = argument

    def __getattr__(self, name: str) -> Argument:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(f"no argument named {name!r}") from None

    def unique(self) -> list[Argument]:
        """Each argument once."""
        return list({id(a): a for a in self.values()}.values())


class ParserContext:
    """One context of a parse: the core options (name None) or a task with its arguments."""

    def __init__(
        self, name: str | None = None, aliases: Iterable[str] = (), args: Iterable[Argument] = ()
    ) -> None:
        self.name = name
        self.aliases = tuple(aliases)
        self.args = Arguments()
        for argument in args:
            self.args.add(argument)

    @property
    def as_kwargs(self) -> dict[str, Any]:
        """The arguments as keyword arguments ({name: value})."""
        return {a.name.replace("-", "_"): a.value for a in self.args.unique()}

    def __repr__(self) -> str:
        return f"<ParserContext {self.name or '(core)'}: {self.as_kwargs!r}>"


class ParseResult(list[ParserContext]):
    """A parse: the core context first, then each task's; `remainder` is the text after --,
    `unparsed` the tokens left to the tasks."""

    def __init__(self, contexts: Iterable[ParserContext] = ()) -> None:
        super().__init__(contexts)
        self.remainder = ""
        self.unparsed: list[str] = []


class Parser:
    """Invoke's parser: corral's command line is click's, so this refuses to be made."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise UnsupportedError(
            "invoke.parser.Parser: corral parses its command line with click; a program adds "
            "options by returning Arguments from Program.core_args()"
        )
