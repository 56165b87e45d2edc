"""The executor: each call once per host in order, one Connection per host, a config copy per
host, local Context without hosts, sync/aio objects by task colour. Dry runs: no sockets."""

from __future__ import annotations

from typing import Any

import pytest

import corral
import corral.aio
from corral import Collection, Config, task
from corral.errors import ConfigError
from corral.tasks.executor import Executor, remainder_call

DRY = Config(overrides={"run": {"dry": True}})


def test_sync_tasks_get_sync_objects_and_async_tasks_aio_ones() -> None:
    seen: list[Any] = []

    @task
    def sync_task(c):
        seen.append(c)
        return c.run("echo sync", hide=True).stdout

    @task
    async def async_task(c):
        seen.append(c)
        return (await c.run("echo async", hide=True)).stdout

    with Executor(Collection(sync_task, async_task)) as executor:
        results = executor.execute("sync-task", "async-task")
    assert results == {"sync-task": {"local": "sync\n"}, "async-task": {"local": "async\n"}}
    assert isinstance(seen[0], corral.Context) and isinstance(seen[1], corral.aio.Context)
    assert seen[0]._async is seen[1]  # one local context per execution


def test_each_task_runs_on_every_host_in_order_with_that_hosts_connection(
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen: list[tuple[str, str, Any]] = []

    @task
    def first(c):
        seen.append(("first", c.original_host, c))
        c.run("uname")

    @task
    async def second(c):
        seen.append(("second", c.original_host, c))
        await c.sudo("reboot")

    with Executor(Collection(first, second), DRY, ["web2", "web1", "web2"]) as executor:
        executor.execute("first", "second")
    assert [(name, host) for name, host, _ in seen] == [
        ("first", "web2"),
        ("first", "web1"),
        ("second", "web2"),
        ("second", "web1"),
    ]
    assert isinstance(seen[0][2], corral.Connection)
    assert isinstance(seen[2][2], corral.aio.Connection)
    assert seen[0][2]._async is seen[2][2]  # web2's connection serves both tasks
    assert capsys.readouterr().out.splitlines() == [
        "[web2] uname",
        "[web1] uname",
        "[web2] sudo reboot",
        "[web1] sudo reboot",
    ]


def test_each_host_gets_its_own_copy_of_the_config() -> None:
    seen: list[Any] = []

    @task
    def leak(c):
        seen.append(c.config.get("deploy_env"))
        c.config["deploy_env"] = f"changed-on-{c.original_host}"

    config = Config(overrides={"deploy_env": "staging", "run": {"dry": True}})
    with Executor(Collection(leak), config, ["a", "b"]) as executor:
        executor.execute("leak", "leak")  # named twice, it runs twice (as in Fabric)
        executor.execute("leak")  # a second execution reuses the connections
    assert seen == [
        "staging",
        "staging",
        *["changed-on-a", "changed-on-b"] * 2,
    ]
    assert config.deploy_env == "staging"


def test_task_hosts_are_the_default_and_dash_h_overrides_them() -> None:
    seen: list[str | None] = []

    @task(hosts=["db1", "db2"])
    def migrate(c):
        seen.append(getattr(c, "original_host", None))

    @task
    def local_only(c):
        seen.append(getattr(c, "original_host", None))

    with Executor(Collection(migrate, local_only), DRY) as executor:
        executor.execute("migrate", "local-only")
    with Executor(Collection(migrate), DRY, ["web1"]) as executor:
        executor.execute("migrate")
    assert seen == ["db1", "db2", None, "web1"]


def _where(c: Any) -> str:
    return str(c.original_host) if isinstance(c, corral.Connection) else "local"


def test_pre_and_post_tasks_run_once_locally_under_dash_h_as_in_fabric() -> None:
    order: list[str] = []

    @task
    def setup(c):
        order.append(f"setup@{_where(c)}")

    @task(setup, post=[setup])
    def deploy(c, branch="main"):
        order.append(f"deploy {branch}@{_where(c)}")

    @task(pre=[setup])
    def restart(c):
        order.append(f"restart@{_where(c)}")

    with Executor(Collection(setup, deploy, restart), DRY, ["a", "b"]) as executor:
        executor.execute(("deploy", {"branch": "dev"}), "restart")
    # setup once, here (a local build step never runs on the servers); its repeats as
    # deploy's post-task and restart's pre-task are the same call in the same place: dropped
    assert order == ["setup@local", "deploy dev@a", "deploy dev@b", "restart@a", "restart@b"]


def test_no_dedupe_runs_every_pre_and_post_task_as_fabric_does() -> None:
    order: list[str] = []

    @task
    def setup(c):
        order.append(f"setup@{_where(c)}")

    @task(setup, post=[setup])
    def deploy(c):
        order.append(f"deploy@{_where(c)}")

    config = Config(overrides={"run": {"dry": True}, "tasks": {"dedupe": False}})
    with Executor(Collection(setup, deploy), config, ["a"]) as executor:
        executor.execute("deploy", "setup")
    assert order == ["setup@local", "deploy@a", "setup@local", "setup@a"]


def test_a_pre_task_with_hosts_of_its_own_runs_on_them_not_on_dash_h() -> None:
    order: list[str] = []

    @task(hosts=["db1"])
    def backup(c):
        order.append(f"backup@{_where(c)}")

    @task(backup)
    def migrate(c):
        order.append(f"migrate@{_where(c)}")

    with Executor(Collection(backup, migrate), DRY, ["web1", "web2"]) as executor:
        executor.execute("migrate")
    assert order == ["backup@db1", "migrate@web1", "migrate@web2"]


def test_dict_hosts_become_connections_with_their_settings() -> None:
    seen: list[tuple[str, str, int, Any]] = []

    @task(
        hosts=[
            {"host": "web1", "user": "deploy", "port": 2222},
            {"host": "web2", "connect_kwargs": {"key_filename": "/k"}, "config": {"tier": 2}},
            "web3",
        ]
    )
    def where(c):
        seen.append((c.original_host, c.user, c.port, c.config.get("tier")))

    with Executor(Collection(where), DRY) as executor:
        results = executor.execute("where")
    assert seen[0][:3] == ("web1", "deploy", 2222)
    assert seen[1][0] == "web2" and seen[1][3] == 2
    assert seen[2][0] == "web3" and seen[2][3] is None
    assert list(results["where"]) == ["web1", "web2", "web3"]


def test_a_host_dict_with_an_unknown_key_is_refused_naming_the_keys() -> None:
    @task(hosts=[{"host": "web1", "usr": "deploy"}])
    def where(c): ...

    with Executor(Collection(where), DRY) as executor, pytest.raises(ConfigError) as caught:
        executor.execute("where")
    assert "unknown key(s) usr" in str(caught.value)
    assert "user" in str(caught.value)


def test_normalize_hosts_is_the_extension_point_for_where_hosts_come_from() -> None:
    roles = {"web": [{"host": "web1", "user": "www"}, {"host": "web2", "user": "www"}]}
    seen: list[str] = []

    class RoleExecutor(Executor):
        def normalize_hosts(self, hosts):
            out = []
            for value in hosts or []:
                name = value if isinstance(value, str) else value["host"]
                out += roles.get(name, [{"host": name}])
            return out

    @task
    def where(c):
        seen.append(f"{c.user}@{c.original_host}")

    with RoleExecutor(Collection(where), DRY, ["web", "db1"]) as executor:
        executor.execute("where")
    assert seen[:2] == ["www@web1", "www@web2"]
    assert seen[2].endswith("@db1")


def test_what_a_local_task_sets_reaches_the_hosts_of_later_tasks() -> None:
    seen: list[tuple[str, Any]] = []

    @task
    def production(c):
        c.user = "deploy"  # Invoke: an attribute the Context lacks is a config setting
        c.config.deploy_env = "production"

    @task(hosts=["web1"])
    def deploy(c):
        seen.append((c.user, c.config.deploy_env))

    with Executor(Collection(production, deploy), DRY) as executor:
        executor.execute("production", "deploy")
    assert seen == [("deploy", "production")]


def test_autoprint_prints_the_return_value(capsys: pytest.CaptureFixture[str]) -> None:
    @task(autoprint=True)
    def version(c):
        return "1.2.3"

    with Executor(Collection(version)) as executor:
        executor.execute("version")
    assert capsys.readouterr().out == "1.2.3\n"


def test_an_ad_hoc_command_runs_on_every_host(capsys: pytest.CaptureFixture[str]) -> None:
    with Executor(Collection(), DRY, ["a", "b"]) as executor:
        results = executor.execute(remainder_call("uname -a"))
    assert capsys.readouterr().out.splitlines() == ["[a] uname -a", "[b] uname -a"]
    assert list(results) == ["-- uname -a"]


def test_a_failure_stops_the_run_and_says_where() -> None:
    ran: list[str] = []

    @task
    def boom(c):
        ran.append(c.original_host)
        raise RuntimeError("no")

    executor = Executor(Collection(boom), DRY, ["a", "b"])
    with pytest.raises(RuntimeError), executor:
        executor.execute("boom")
    assert ran == ["a"]
    assert executor.current is not None and executor.current[1] == "a"


async def test_run_call_is_the_unit_a_fleet_engine_can_run_concurrently() -> None:
    @task
    def sync_task(c):
        return c.run("echo s", hide=True).stdout

    @task
    async def async_task(c):
        return (await c.run("echo a", hide=True)).stdout

    executor = Executor(Collection(sync_task, async_task))
    values = [
        await executor.run_call(executor.to_call(n), None) for n in ("sync-task", "async-task")
    ]
    assert values == ["s\n", "a\n"]
