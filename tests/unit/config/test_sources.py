"""Config levels: every level's precedence as a table of cases, and bad config named precisely."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from corral.config import Config, Secret, load_config, parse_set
from corral.config.sources import coerce, env_names, load_env, load_file
from corral.errors import ConfigError

# "hostvars": an inventory host's vars, merged per host by Config.with_host_vars
LEVELS = ["collection", "system", "user", "project", "hostvars", "env", "runtime", "flags", "set"]


def _write_yaml(path: Path, deploy_env: str) -> None:
    path.write_text(f"deploy_env: {deploy_env}\nrun:\n  echo: true\n")


def _build(tmp_path: Path, present: list[str]) -> Config:
    """Load a Config where each level in `present` sets deploy_env to its own name."""
    system = tmp_path / "etc" / "corral"
    user = tmp_path / "home" / ".corral"
    project = tmp_path / "project"
    for directory in (system.parent, user.parent, project):
        directory.mkdir(parents=True, exist_ok=True)
    if "system" in present:
        _write_yaml(system.with_suffix(".yaml"), "system")
    if "user" in present:
        (user.parent / ".corral.json").write_text(json.dumps({"deploy_env": "user"}))
    if "project" in present:
        (project / "corral.py").write_text("deploy_env = 'project'\n_private = 1\n")
    runtime = None
    if "runtime" in present:
        runtime = tmp_path / "runtime.yml"
        _write_yaml(runtime, "runtime")
    config = load_config(
        collection={"deploy_env": "collection"} if "collection" in present else None,
        project_dir=project,
        runtime_file=runtime,
        overrides={"deploy_env": "flags"} if "flags" in present else None,
        sets=parse_set(["deploy_env=set"]) if "set" in present else None,
        # env only reaches keys that exist below it: the collection level always declares it
        environ={"CORRAL_DEPLOY_ENV": "env"} if "env" in present else {},
        system_prefix=system,
        user_prefix=user,
    )
    if "hostvars" in present:
        config = config.with_host_vars({"deploy_env": "hostvars"}, "inventory host web1")
    return config


def _cases() -> list[tuple[list[str], str | None]]:
    """Each level alone, each adjacent pair, and all together: the highest present wins."""
    cases: list[tuple[list[str], str | None]] = [([], None)]
    for index, level in enumerate(LEVELS):
        cases.append(([level] if level != "env" else ["collection", "env"], level))
        if index:
            lower = LEVELS[index - 1]
            pair = [lower, level] if "env" not in (lower, level) else ["collection", lower, level]
            cases.append((sorted(set(pair), key=LEVELS.index), level))
    cases.append((LEVELS, "set"))
    cases.append(([lvl for lvl in LEVELS if lvl != "set"], "flags"))
    return cases


@pytest.mark.parametrize(("present", "expected"), _cases(), ids=lambda v: str(v))
def test_the_highest_level_present_wins(
    tmp_path: Path, present: list[str], expected: str | None
) -> None:
    config = _build(tmp_path, present)
    assert config.get("deploy_env") == expected
    assert config.run.warn is False  # defaults under everything


def test_levels_merge_sections_key_by_key(tmp_path: Path) -> None:
    runtime = tmp_path / "run.yaml"
    runtime.write_text("run:\n  warn: true\ntimeouts:\n  command: 30\n")
    config = load_config(
        collection={"run": {"echo": True}, "timeouts": {"connect": 4}},
        runtime_file=runtime,
        overrides={"run": {"hide": "out"}},
        environ={},
        system_prefix=tmp_path / "none",
        user_prefix=tmp_path / "none",
    )
    assert (config.run.echo, config.run.warn, config.run.hide) == (True, True, "out")
    assert (config.timeouts.connect, config.timeouts.command) == (4, 30)
    assert config.run.shell == "/bin/bash"


@pytest.mark.parametrize(
    ("variable", "value", "key", "expected"),
    [
        ("CORRAL_RUN_ECHO", "1", "run.echo", True),
        ("CORRAL_RUN_ECHO", "0", "run.echo", False),
        ("CORRAL_RUN_ECHO", "true", "run.echo", True),
        ("CORRAL_RUN_ECHO", "", "run.echo", False),
        ("corral_run_warn", "yes", "run.warn", True),  # names match case-insensitively
        ("CORRAL_TIMEOUTS_CONNECT", "2.5", "timeouts.connect", 2.5),
        ("CORRAL_TIMEOUTS_COMMAND", "60", "timeouts.command", 60),
        ("CORRAL_RUN_ECHO_FORMAT", "> {command}", "run.echo_format", "> {command}"),
        ("CORRAL_USER", "1234", "user", "1234"),  # a string setting stays a string
        ("CORRAL_RUN_ENV", "{A: b}", "run.env", {"A": "b"}),
        ("CORRAL_HOST_KEY_POLICY", "accept-new", "host_key_policy", "accept-new"),
    ],
)
def test_environment_variables_map_onto_existing_keys(
    variable: str, value: str, key: str, expected: Any
) -> None:
    config = load_config(environ={variable: value}, system_prefix="/nonexistent/x")
    got = config.get(key)
    assert (got.to_dict() if hasattr(got, "to_dict") else got) == expected


def test_environment_reaches_only_keys_defined_below_it() -> None:
    config = load_config(
        collection={"deploy": {"replicas": 2}},
        environ={"CORRAL_DEPLOY_REPLICAS": "5", "CORRAL_NOT_A_KEY": "x", "OTHER": "y"},
        system_prefix="/nonexistent/x",
    )
    assert config.deploy.replicas == 5
    assert "not_a_key" not in config and "NOT_A_KEY" not in config


def test_secrets_from_the_environment_stay_strings_and_are_masked() -> None:
    level = load_env({"CORRAL_SUDO_PASSWORD": "123456"}, Config().to_dict())
    secret = level.data["sudo"]["password"]
    assert isinstance(secret, Secret) and secret.reveal() == "123456"
    assert "123456" not in repr(Config(overrides=level.data))


def test_ambiguous_environment_names_are_refused() -> None:
    with pytest.raises(ConfigError, match=r"CORRAL_RUN_ECHO would set both run\.echo and run_echo"):
        env_names({"run": {"echo": False}, "run_echo": 1})


@pytest.mark.parametrize(
    ("items", "expected"),
    [
        (["deploy.replicas=3"], {"deploy": {"replicas": 3}}),
        (["debug=true"], {"debug": True}),
        (["run.echo=1"], {"run": {"echo": True}}),
        (["name=web 1", "tags=[a, b]"], {"name": "web 1", "tags": ["a", "b"]}),
        (["a.b=1", "a.c=x"], {"a": {"b": 1, "c": "x"}}),
        (["empty="], {"empty": ""}),
        (["user=007"], {"user": "007"}),
        (["url=http://x/?a=b"], {"url": "http://x/?a=b"}),
    ],
)
def test_set_items_become_nested_yaml_typed_settings(
    items: list[str], expected: dict[str, Any]
) -> None:
    assert parse_set(items) == expected


@pytest.mark.parametrize("item", ["novalue", "=3", "a..b=1", "a.=1"])
def test_malformed_set_items_are_refused(item: str) -> None:
    with pytest.raises(ConfigError, match="expected KEY=VALUE"):
        parse_set([item])


def test_coerce_keeps_secrets_as_strings() -> None:
    value = coerce("007", "connect_kwargs.password")
    assert isinstance(value, Secret) and value.reveal() == "007"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        (
            "c.yaml",
            "run:\n  echo: maybe\n",
            r"c.yaml: run.echo: expected true or false, got 'maybe'",
        ),
        ("c.yaml", "run: 3\n", r"c.yaml: run: expected a mapping \(a section of keys\), got 3"),
        (
            "c.yaml",
            "run:\n  ecko: true\n",
            r"c.yaml: run.ecko: unknown setting .*did you mean run.echo",
        ),
        ("c.yaml", "timeouts:\n  connect: ten\n", r"timeouts.connect: expected a positive number"),
        (
            "c.yaml",
            "run:\n  hide: sometimes\n",
            r"run.hide: expected one of true, false, null, out",
        ),
        ("c.yaml", "host_key_policy: yolo\n", r"host_key_policy: expected one of strict"),
        ("c.yaml", "port: 0\n", r"port: expected a port number, got 0"),
        (
            "c.yaml",
            "sudo:\n  password: [1, 2]\n",
            r"sudo.password: expected a string or null, got a list",
        ),
        ("c.yaml", "run: [1\n", r"c.yaml: not valid YAML \(line 2, column 1"),
        (
            "c.yaml",
            "- a\n- b\n",
            r"c.yaml: expected a mapping of settings at the top level, got list",
        ),
        ("c.json", '{"run": {"echo": 1,}}', r"c.json: not valid JSON \(line 1, column 20"),
        ("c.py", "import os\n", r"c.py: os: a module is not a config value"),
        ("c.py", "x = 1/0\n", r"c.py: ZeroDivisionError"),
    ],
)
def test_bad_config_names_the_file_the_key_and_the_expectation(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(runtime_file=path, environ={}, system_prefix=tmp_path / "none")


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="environment variable CORRAL_TIMEOUTS_CONNECT"):
        load_config(environ={"CORRAL_TIMEOUTS_CONNECT": "soon"}, system_prefix="/nonexistent/x")


def test_bad_set_value_names_the_flag() -> None:
    with pytest.raises(ConfigError, match=r"--set: run.echo: expected true or false, got 'loud'"):
        load_config(sets=parse_set(["run.echo=loud"]), environ={}, system_prefix="/nonexistent/x")


def test_a_missing_runtime_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.yaml: config file not found"):
        load_config(runtime_file=tmp_path / "missing.yaml", environ={})


@pytest.mark.parametrize("suffix", [".yaml", ".yml", ".json", ".py"])
def test_files_in_every_format_load(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"settings{suffix}"
    writers: dict[str, Callable[[], str]] = {
        ".yaml": lambda: "deploy:\n  replicas: 3\n",
        ".yml": lambda: "deploy: {replicas: 3}\n",
        ".json": lambda: '{"deploy": {"replicas": 3}}',
        ".py": lambda: "deploy = {'replicas': 3}\n",
    }
    path.write_text(writers[suffix]())
    assert load_file(path) == {"deploy": {"replicas": 3}}


def test_secrets_in_files_are_masked_in_repr_and_dumps(tmp_path: Path) -> None:
    path = tmp_path / "secret.yaml"
    path.write_text("sudo:\n  password: hunter2\nconnect_kwargs:\n  passphrase: pp-99\n")
    config = load_config(runtime_file=path, environ={}, system_prefix=tmp_path / "none")
    assert "hunter2" not in repr(config) and "pp-99" not in repr(config)
    assert "hunter2" not in str(config.to_dict()) and "pp-99" not in str(config.to_dict())
    assert config.sudo.password.reveal() == "hunter2"


def test_an_empty_file_is_an_empty_level(tmp_path: Path) -> None:
    path = tmp_path / "empty.yaml"
    path.write_text("")
    assert load_config(runtime_file=path, environ={}).run.echo is False


#: With a fabfile: each of Fabric's sources, and where it sits (just below corral's own).
FABRIC_SOURCES = ["fabric-system", "system", "fabric-user", "user", "fabric-project", "project"]


def _fabric_build(tmp_path: Path, present: list[str], environ: dict[str, str]) -> Config:
    etc, home, project = tmp_path / "etc", tmp_path / "home", tmp_path / "project"
    for directory in (etc, home, project):
        directory.mkdir(exist_ok=True)
    files = {
        "fabric-system": etc / "fabric.yaml",
        "system": etc / "corral.yaml",
        "fabric-user": home / ".fabric.yml",
        "user": home / ".corral.yaml",
        "fabric-project": project / "fabric.json",
        "project": project / "corral.yaml",
    }
    for name in present:
        path = files[name]
        path.write_text(
            json.dumps({"stage": name}) if path.suffix == ".json" else f"stage: {name}\n"
        )
    return load_config(
        collection={"stage": "collection"},
        project_dir=project,
        environ=environ,
        system_prefix=etc / "corral",
        user_prefix=home / ".corral",
        fabric=True,
    )


@pytest.mark.parametrize("index", range(len(FABRIC_SOURCES)))
def test_fabrics_files_sit_just_below_corrals_at_each_level(tmp_path: Path, index: int) -> None:
    present = FABRIC_SOURCES[: index + 1]
    assert _fabric_build(tmp_path, present, {}).stage == FABRIC_SOURCES[index]


def test_fabric_variables_sit_just_below_corrals(tmp_path: Path) -> None:
    both = {"FABRIC_STAGE": "fabric-env", "CORRAL_STAGE": "corral-env"}
    assert _fabric_build(tmp_path, FABRIC_SOURCES, both).stage == "corral-env"
    only = {"FABRIC_STAGE": "fabric-env", "FABRIC_SUDO_PASSWORD": "pw"}
    config = _fabric_build(tmp_path, FABRIC_SOURCES, only)
    assert config.stage == "fabric-env"  # above every file
    assert isinstance(config.sudo.password, Secret) and config.sudo.password.reveal() == "pw"


def test_fabrics_sources_are_read_only_for_a_fabfile(tmp_path: Path) -> None:
    (tmp_path / "fabric.yaml").write_text("stage: fabric\n")
    config = load_config(project_dir=tmp_path, environ={"FABRIC_RUN_ECHO": "1"})
    assert "stage" not in config and config.run.echo is False


def test_host_vars_reach_config_keys_below_overrides_and_merges() -> None:
    base = Config(overrides={"run": {"echo": True}})
    base.merge({"sudo": {"user": "deploy"}})
    host = base.with_host_vars(
        {"run": {"echo": False, "warn": True}, "sudo": {"user": "root", "password": "pw"},
         "app": {"replicas": 3}},
        "inventory host web1",
    )  # fmt: skip
    assert (host.run.echo, host.run.warn) == (True, True)  # overrides beat host vars
    assert host.sudo.user == "deploy"  # so does merge()
    assert isinstance(host.sudo.password, Secret) and "pw" not in repr(host)
    assert host.app.replicas == 3
    assert base.get("app") is None and base.run.warn is False  # the base is untouched
    again = host.with_host_vars({"run": {"echo": False}})
    assert again.run.echo is True  # what was pinned stays pinned in the copy


def test_bad_host_vars_for_corral_keys_name_the_host() -> None:
    with pytest.raises(
        ConfigError, match=r"inventory host web1: run\.echo: expected true or false"
    ):
        Config().with_host_vars({"run": {"echo": "yes please"}}, "inventory host web1")
