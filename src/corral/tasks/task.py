"""`@task` and `Task`: a function made runnable by name, with Invoke's options; `call` for
pre/post tasks that need arguments."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, ParamSpec, TypeVar, overload

from ..errors import UnsupportedError
from .argument import Argument, task_arguments

P = ParamSpec("P")
R = TypeVar("R")
#: A host a task runs on: a host string, or a dict of Connection arguments (Fabric's form).
HostEntry = str | Mapping[str, Any]


class Task(Generic[P, R]):
    """A task: the function, and how it is named, parameterised and sequenced."""

    def __init__(
        self,
        body: Callable[P, R],
        *,
        name: str | None = None,
        aliases: Iterable[str] = (),
        positional: Iterable[str] | None = None,
        optional: Iterable[str] = (),
        iterable: Iterable[str] = (),
        incrementable: Iterable[str] = (),
        default: bool = False,
        help: Mapping[str, str] | None = None,
        pre: Iterable[Task[..., Any] | Call] = (),
        post: Iterable[Task[..., Any] | Call] = (),
        autoprint: bool = False,
        hosts: Iterable[HostEntry] | None = None,
    ) -> None:
        if not callable(body):
            raise TypeError(f"@task needs a function, not {body!r}")
        self.body = body
        self.name: str = name or str(getattr(body, "__name__", "task"))
        self.aliases = tuple(aliases)
        self.positional = None if positional is None else tuple(positional)
        self.optional = tuple(optional)
        self.iterable = tuple(iterable)
        self.incrementable = tuple(incrementable)
        self.is_default = default
        self.help: dict[str, str] = dict(help or {})
        self.pre = [_as_call(item, "pre") for item in pre]
        self.post = [_as_call(item, "post") for item in post]
        self.autoprint = autoprint
        if isinstance(hosts, str | Mapping):
            raise TypeError(
                f"task {self.name}: hosts must be a list of host strings or dicts, not "
                f"{type(hosts).__name__} {hosts!r}"
            )
        #: Hosts the task runs on when none are given with -H (None: run locally): host
        #: strings, or dicts of Connection arguments ({"host": ..., "user": ...}) as in Fabric.
        self.hosts: tuple[HostEntry, ...] | None = None if hosts is None else tuple(hosts)
        self.__doc__ = getattr(body, "__doc__", None)
        self.__name__ = self.name
        self.__module__ = getattr(body, "__module__", __name__)
        self.__wrapped__ = body
        self._arguments: list[Argument] | None = None
        self.arguments()  # a name in positional/help/... that is not a parameter fails here

    @property
    def is_async(self) -> bool:
        """True for an `async def` task (it receives the corral.aio objects)."""
        return inspect.iscoroutinefunction(self.body)

    def arguments(self) -> list[Argument]:
        """Return the task's command-line arguments, from its signature (context excluded)."""
        if self._arguments is None:
            self._arguments = task_arguments(
                self.body,
                task=self.name,
                positional=self.positional,
                optional=self.optional,
                iterable=self.iterable,
                incrementable=self.incrementable,
                help=self.help,
            )
        return self._arguments

    @property
    def summary(self) -> str:
        """The first line of the docstring (shown by `corral --list`)."""
        doc = inspect.getdoc(self.body) or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""

    @property
    def docstring(self) -> str:
        """The whole docstring, dedented (shown by `corral --help TASK`)."""
        return inspect.getdoc(self.body) or ""

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.body(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<Task {self.name!r}>"


@dataclass(frozen=True, eq=False)
class Call:
    """A task with the arguments to call it with (Invoke's `call`), for pre and post."""

    task: Task[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: The name the task was asked for by (a dotted path or an alias), for messages.
    called_as: str | None = None
    #: Whether the command line's hosts (-H) apply: False for pre- and post-tasks, which run
    #: once, on their own hosts or locally (Fabric's `apply_hosts`).
    apply_hosts: bool = True

    @property
    def name(self) -> str:
        """The name shown for this call."""
        return self.called_as or self.task.name

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Call):
            return NotImplemented
        return (
            self.task is other.task
            and self.args == other.args
            and self.kwargs == other.kwargs
            and self.apply_hosts == other.apply_hosts
        )

    def __hash__(self) -> int:
        return hash((id(self.task), self.args, tuple(sorted(self.kwargs)), self.apply_hosts))

    def __repr__(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"<Call {self.name}({', '.join(parts)})>"


def call(task: Task[..., Any], /, *args: Any, **kwargs: Any) -> Call:
    """Return a Call of `task` with arguments, for `pre=` and `post=`."""
    return Call(task, args, kwargs)


def _as_call(item: Task[..., Any] | Call, where: str) -> Call:
    if isinstance(item, Call):
        return item
    if isinstance(item, Task):
        return Call(item)
    raise TypeError(f"{where}= takes tasks or call(task, ...), not {item!r}")


# @task(name=..., ...), or @task(pre_task, ...); a Task given positionally is a pre-task, so
# this overload comes first and wins where the two overlap (as the runtime check does)
@overload
def task(  # type: ignore[overload-overlap]
    *pre_tasks: Task[..., Any] | Call,
    name: str | None = None,
    aliases: Sequence[str] = (),
    positional: Sequence[str] | None = None,
    optional: Sequence[str] = (),
    iterable: Sequence[str] = (),
    incrementable: Sequence[str] = (),
    default: bool = False,
    help: Mapping[str, str] | None = None,
    pre: Sequence[Task[..., Any] | Call] = (),
    post: Sequence[Task[..., Any] | Call] = (),
    autoprint: bool = False,
    hosts: Sequence[HostEntry] | None = None,
) -> Callable[[Callable[P, R]], Task[P, R]]: ...


# @task
@overload
def task(body: Callable[P, R], /) -> Task[P, R]: ...


def task(*args: Any, **options: Any) -> Any:
    """Turn a function into a Task; usable bare (`@task`) or with options (`@task(...)`).

    Positional arguments to `@task(...)` are pre-tasks, as in Invoke: `@task(clean, build)`.
    """
    if (
        len(args) == 1
        and not options
        and not isinstance(args[0], Task | Call)
        and callable(args[0])
    ):
        return Task(args[0])
    pre = list(args)
    if pre and "pre" in options:
        raise TypeError("@task: give pre-tasks either positionally or as pre=, not both")
    options.setdefault("pre", pre)

    def decorate(body: Callable[P, R]) -> Task[P, R]:
        return Task(body, **options)

    return decorate


class ConnectionCall(Call):
    """Fabric's per-host Call: not in corral, whose executor makes each host's Connection
    itself. Choose hosts and their settings by overriding `Executor.normalize_hosts` (a dict
    host may carry a `config` mapping, merged into that host's config)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        raise UnsupportedError(
            "fabric.tasks.ConnectionCall: corral's Executor makes each host's Connection "
            "itself; to choose hosts and their settings, override Executor.normalize_hosts "
            "(a host dict may carry a 'config' mapping, merged into that host's config)"
        )
