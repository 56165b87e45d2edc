"""@task, Collection (names, aliases, defaults, nesting, config) and pre/post expansion."""

from __future__ import annotations

import types

import pytest

from corral import Call, Collection, Task, call, task
from corral.tasks.executor import expand_calls


@task
def clean(c):
    """Remove build output.

    More words.
    """


@task(clean, aliases=["b"], default=True)
def build(c, target="all"): ...


@task(pre=[call(build, target="docs")], post=[clean], name="ship-it")
def ship_it(c): ...


@task
async def fetch(c): ...


def test_task_bare_and_with_options() -> None:
    assert isinstance(clean, Task) and clean.name == "clean"
    assert clean.summary == "Remove build output."
    assert clean.docstring.endswith("More words.")
    assert build.pre == [Call(clean)] and build.aliases == ("b",) and build.is_default
    assert ship_it.name == "ship-it" and ship_it.post == [Call(clean)]
    assert fetch.is_async and not build.is_async


def test_a_task_is_still_callable_as_its_function() -> None:
    @task
    def add(c, a=1, b=2):
        return (c, a + b)

    assert add("ctx", 2, b=5) == ("ctx", 7)


def test_hosts_must_be_a_list() -> None:
    with pytest.raises(TypeError, match="hosts must be a list"):
        task(hosts="web1")(lambda c: None)


def test_calls_compare_by_task_and_arguments() -> None:
    assert call(build, target="x") == call(build, target="x")
    assert call(build, target="x") != call(build, target="y")
    assert Call(build) != Call(clean)


def test_collection_lookup_by_name_alias_dotted_path_and_default() -> None:
    web = Collection("web", build, clean)
    root = Collection(ship_it, fetch, web=web)
    root.add_collection(Collection("db"))
    assert root["ship-it"] is ship_it and root["ship_it"] is ship_it
    assert root["web.build"] is build and root["web.b"] is build
    assert root["web"] is build  # a collection's default task
    assert root.resolve("web.b") == ("web.build", build)
    assert "web.clean" in root and "web.nope" not in root and "db" not in root
    assert root.task_names() == {
        "ship-it": [],
        "fetch": [],
        "web.build": ["web", "web.b"],
        "web.clean": [],
    }


def test_unknown_task_suggests_the_closest_name() -> None:
    root = Collection(build, clean, ship_it)
    with pytest.raises(KeyError, match="no task named 'biuld'; did you mean 'build'"):
        root["biuld"]
    assert root.no_such_task("zzz") == "no task named 'zzz'"


def test_names_are_dashed_and_clashes_refused() -> None:
    @task
    def make_docs(c): ...

    root = Collection(make_docs)
    assert list(root.tasks) == ["make-docs"]
    with pytest.raises(ValueError, match="already a task"):
        root.add_collection(Collection("make-docs"))
    with pytest.raises(ValueError, match="both 'build' and 'other' are the default"):
        Collection(build, other=task(default=True)(_nothing))


def test_from_module_collects_tasks_or_takes_its_namespace() -> None:
    module = types.ModuleType("deploy_tasks", "Deploy things.\n\nMore.")
    module.build = build  # type: ignore[attr-defined]
    module.clean = clean  # type: ignore[attr-defined]
    module.not_a_task = lambda c: None  # type: ignore[attr-defined]
    collection = Collection.from_module(module, config={"deploy_env": "staging"})
    assert collection.name == "deploy-tasks" and collection.help == "Deploy things."
    assert sorted(collection.tasks) == ["build", "clean"] and collection.default == "build"
    assert collection.configuration() == {"deploy_env": "staging"}
    module.ns = Collection("custom", ship_it)  # type: ignore[attr-defined]
    assert list(Collection.from_module(module).tasks) == ["ship-it"]


def test_configuration_merges_subcollections_under_their_parent() -> None:
    sub = Collection("sub")
    sub.configure({"deploy": {"replicas": 1, "region": "eu"}, "only_sub": True})
    root = Collection(sub=sub)
    root.configure({"deploy": {"replicas": 5}})
    assert root.configuration() == {
        "deploy": {"replicas": 5, "region": "eu"},
        "only_sub": True,
    }


def test_serialized_tree() -> None:
    root = Collection(ship_it, web=Collection("web", build))
    assert root.serialized() == {
        "name": None,
        "help": None,
        "default": None,
        "tasks": [{"name": "ship-it", "help": None, "aliases": []}],
        "collections": [
            {
                "name": "web",
                "help": None,
                "default": "build",
                "tasks": [{"name": "build", "help": None, "aliases": ["b"]}],
                "collections": [],
            }
        ],
    }


def test_pre_and_post_tasks_run_around_their_task_each_once() -> None:
    calls = expand_calls([Call(ship_it), Call(build), Call(clean)])
    assert [(c.task.name, c.kwargs, c.apply_hosts) for c in calls] == [
        ("clean", {}, False),  # build's pre-task
        ("build", {"target": "docs"}, False),  # ship-it's pre-task, with its arguments
        ("ship-it", {}, True),
        ("build", {}, True),  # a different call of build: other arguments; its clean ran
        ("clean", {}, True),  # named on the command line: it runs as named, as in Fabric
    ]


def test_a_task_that_is_its_own_pre_task_is_refused() -> None:
    @task
    def loop(c): ...

    loop.pre.append(Call(loop))
    with pytest.raises(ValueError, match="loop is its own pre- or post-task"):
        expand_calls([Call(loop)])


def _nothing(c: object) -> None:
    """A task that does nothing."""
