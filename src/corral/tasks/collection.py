"""`Collection`: tasks and nested collections (`deploy.web`), with aliases, defaults and
collection-level config (Invoke's Collection)."""

from __future__ import annotations

import difflib
import types
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from ..config import merge_dicts
from ..config.config import copy_data
from ..inventory.sources.hook import is_inventory_hook
from .task import Call, Task


def _dashed(name: str) -> str:
    return name.replace("_", "-").strip("-")


class Collection:
    """A namespace of tasks; `Collection("deploy", web, db)` or `Collection.from_module(m)`."""

    def __init__(self, *args: Any, **kwargs: Task[..., Any] | Collection) -> None:
        self.name: str | None = None
        if args and isinstance(args[0], str):
            self.name, args = _dashed(args[0]), args[1:]
        self.tasks: dict[str, Task[..., Any]] = {}
        self.collections: dict[str, Collection] = {}
        self._aliases: dict[str, str] = {}  # alias -> task name
        #: Name of the task run when the collection itself is named (`corral deploy`).
        self.default: str | None = None
        self._configuration: dict[str, Any] = {}
        #: Where the collection was loaded from (the corralfile), if it was.
        self.loaded_from: str | None = None
        #: One line about the collection (a module's docstring), for listings.
        self.help: str | None = None
        #: The module's @inventory_hook functions: inventory sources the corralfile defines.
        self.inventory_hooks: list[Callable[..., Any]] = []
        for item in args:
            self._add(item, None)
        for name, item in kwargs.items():
            self._add(item, name)

    def _add(self, item: object, name: str | None) -> None:
        if isinstance(item, Task):
            self.add_task(item, name)
        elif isinstance(item, Collection):
            self.add_collection(item, name)
        elif isinstance(item, types.ModuleType):
            self.add_collection(Collection.from_module(item), name)
        else:
            raise TypeError(f"a Collection holds tasks, collections and modules, not {item!r}")

    # ------------------------------------------------------------------ building

    def add_task(
        self,
        task: Task[..., Any],
        name: str | None = None,
        aliases: tuple[str, ...] | list[str] | None = None,
        default: bool | None = None,
    ) -> None:
        """Add a task under `name` (default: its own name, underscores as dashes)."""
        name = _dashed(name or task.name)
        if name in self.collections:
            raise ValueError(f"{self._label()}: {name!r} is already a collection")
        self.tasks[name] = task
        for alias in task.aliases if aliases is None else aliases:
            self._aliases[_dashed(alias)] = name
        if default if default is not None else task.is_default:
            if self.default is not None and self.default != name:
                raise ValueError(
                    f"{self._label()}: both {self.default!r} and {name!r} are the default task"
                )
            self.default = name

    def add_collection(
        self, collection: Collection | types.ModuleType, name: str | None = None
    ) -> None:
        """Add a sub-collection (or a module's tasks) under `name` (default: its own name)."""
        if isinstance(collection, types.ModuleType):
            collection = Collection.from_module(collection)
        name = _dashed(name or collection.name or "")
        if not name:
            raise ValueError(f"{self._label()}: a sub-collection needs a name")
        if name in self.tasks:
            raise ValueError(f"{self._label()}: {name!r} is already a task")
        self.collections[name] = collection

    @classmethod
    def from_module(
        cls,
        module: types.ModuleType,
        name: str | None = None,
        config: Mapping[str, Any] | None = None,
        loaded_from: str | None = None,
    ) -> Collection:
        """Collect a module's tasks; a module-level `ns` or `namespace` Collection wins."""
        adopted: dict[int, Task[..., Any]] = {}
        for attribute in ("ns", "namespace"):
            found = getattr(module, attribute, None)
            if isinstance(found, Collection):
                collection = found
                break
            if _is_foreign(found, "Collection"):
                collection = _adopt_collection(found, adopted)
                break
        else:
            default_name = module.__name__.rpartition(".")[2]
            collection = cls(name or default_name)
            for value in vars(module).values():
                task = value if isinstance(value, Task) else _adopt_task(value, adopted)
                if task is not None:
                    collection.add_task(task)
        if name is not None:
            collection.name = _dashed(name)
        if config:
            collection.configure(config)
        collection.inventory_hooks = [v for v in vars(module).values() if is_inventory_hook(v)]
        collection.loaded_from = loaded_from or getattr(module, "__file__", None)
        doc = (module.__doc__ or "").strip()
        if collection.help is None and doc:
            collection.help = doc.splitlines()[0]
        return collection

    def configure(self, options: Mapping[str, Any]) -> None:
        """Merge settings into this collection's config (the "collection" config level)."""
        merge_dicts(self._configuration, copy_data(dict(options)))

    def configuration(self) -> dict[str, Any]:
        """Return the collection-level config: sub-collections' merged first, this one on top."""
        merged: dict[str, Any] = {}
        for name in sorted(self.collections):
            merge_dicts(merged, self.collections[name].configuration())
        return merge_dicts(merged, copy_data(self._configuration))

    # ------------------------------------------------------------------ lookup

    def _label(self) -> str:
        return f"collection {self.name!r}" if self.name else "the root collection"

    def aliases_of(self, name: str) -> list[str]:
        """Return the aliases of this collection's task `name` (not of sub-collections')."""
        return [alias for alias, target in self._aliases.items() if target == name]

    def task_names(self) -> dict[str, list[str]]:
        """Return every task's dotted name with its aliases (a collection's default is one)."""
        names: dict[str, list[str]] = {}
        for name in self.tasks:
            aliases = [alias for alias, target in self._aliases.items() if target == name]
            names[name] = aliases
        for prefix, sub in self.collections.items():
            for name, aliases in sub.task_names().items():
                full = [f"{prefix}.{alias}" for alias in aliases]
                if sub.default == name:
                    full.insert(0, prefix)
                names[f"{prefix}.{name}"] = full
        return names

    def resolve(self, name: str) -> tuple[str, Task[..., Any]]:
        """Return (dotted name, task) for a name, dotted path, alias or collection default.

        Raises KeyError naming close matches when there is no such task.
        """
        found = self._find(name)
        if found is None:
            raise KeyError(self.no_such_task(name))
        return found

    def _find(self, name: str) -> tuple[str, Task[..., Any]] | None:
        name = _dashed(name) if name else name
        if not name:
            if self.default is None:
                return None
            return self.default, self.tasks[self.default]
        if name in self.tasks:
            return name, self.tasks[name]
        if name in self._aliases:
            target = self._aliases[name]
            return target, self.tasks[target]
        head, _, rest = name.partition(".")
        sub = self.collections.get(head)
        if sub is None:
            return None
        found = sub._find(rest)
        if found is None:
            return None
        return f"{head}.{found[0]}", found[1]

    def no_such_task(self, name: str) -> str:
        """Return the message for an unknown task name, with a close match if there is one."""
        known = [n for n, aliases in self.task_names().items() for n in (n, *aliases)]
        close = difflib.get_close_matches(_dashed(name), known, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        return f"no task named {name!r}{hint}"

    def __getitem__(self, name: str) -> Task[..., Any]:
        return self.resolve(name)[1]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self._find(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.task_names())

    def __len__(self) -> int:
        return len(self.task_names())

    def __repr__(self) -> str:
        tasks = ", ".join(self.tasks)
        subs = ", ".join(self.collections)
        return f"<Collection {self.name or '(root)'}: tasks [{tasks}] collections [{subs}]>"

    def serialized(self) -> dict[str, Any]:
        """Return the tree as plain data (`corral --list --list-format json`)."""
        return {
            "name": self.name,
            "help": self.help,
            "default": self.default,
            "tasks": [
                {
                    "name": name,
                    "help": task.summary or None,
                    "aliases": [a for a, target in self._aliases.items() if target == name],
                }
                for name, task in sorted(self.tasks.items())
            ],
            "collections": [
                {**sub.serialized(), "name": name} for name, sub in sorted(self.collections.items())
            ],
        }


# ---------------------------------------------------------------------- Invoke's own objects


def _is_foreign(value: object, kind: str) -> bool:
    """True for an Invoke or Fabric object of class `kind` (the real packages, installed)."""
    return any(
        klass.__name__ == kind and klass.__module__.split(".")[0] in ("invoke", "fabric")
        for klass in type(value).__mro__
    )


def _adopt_task(value: object, adopted: dict[int, Task[..., Any]]) -> Task[..., Any] | None:
    """Return corral's Task for a task made by the real Invoke or Fabric (a fabfile that
    imports them where they are installed), or None for anything else."""
    if not _is_foreign(value, "Task"):
        return None
    found = adopted.get(id(value))
    if found is not None:
        return found
    source: Any = value

    def around(items: Any) -> list[Task[..., Any] | Call]:
        calls: list[Task[..., Any] | Call] = []
        for item in items or ():
            if _is_foreign(item, "Call"):
                inner = _adopt_task(item.task, adopted)
                assert inner is not None
                calls.append(Call(inner, tuple(item.args), dict(item.kwargs)))
            else:
                inner = _adopt_task(item, adopted)
                if inner is not None:
                    calls.append(inner)
        return calls

    positional = getattr(source, "positional", None)
    task: Task[..., Any] = Task(
        source.body,
        name=source.name,
        aliases=tuple(source.aliases or ()),
        positional=list(positional) if positional else None,
        optional=tuple(source.optional or ()),
        iterable=tuple(source.iterable or ()),
        incrementable=tuple(source.incrementable or ()),
        default=bool(getattr(source, "is_default", False)),
        help=dict(source.help or {}),
        pre=around(source.pre),
        post=around(source.post),
        autoprint=bool(source.autoprint),
        hosts=getattr(source, "hosts", None),
    )
    adopted[id(value)] = task
    return task


def _adopt_collection(value: Any, adopted: dict[int, Task[..., Any]]) -> Collection:
    """Return corral's Collection for one made by the real Invoke (recursively)."""
    collection = Collection(value.name) if value.name else Collection()
    for name, item in value.tasks.items():
        task = _adopt_task(item, adopted)
        if task is not None:
            collection.add_task(task, name, default=name == value.default)
    for name, sub in value.collections.items():
        collection.add_collection(_adopt_collection(sub, adopted), name)
    collection.configure(getattr(value, "_configuration", None) or {})
    return collection
