import io

from corral.config import Config, DataProxy, Secret


def test_overrides_merge_into_nested_defaults() -> None:
    config = Config(overrides={"run": {"echo": True}, "timeouts": {"connect": 3}})
    assert config.run.echo is True
    assert config.run.warn is False  # untouched default kept
    assert config.timeouts.connect == 3
    assert config.get("timeouts.connect") == 3
    assert config.get("missing.key", "dflt") == "dflt"
    assert config["run"]["echo"] is True


def test_attribute_writes_reach_the_underlying_data() -> None:
    config = Config()
    config.run.echo = True
    assert config.to_dict()["run"]["echo"] is True


def test_clone_is_independent_but_shares_streams() -> None:
    stream = io.StringIO()
    config = Config(overrides={"run": {"out_stream": stream, "env": {"A": "1"}}})
    clone = config.clone()
    clone.run.env["A"] = "2"
    assert config.run.env["A"] == "1"
    assert clone.run.out_stream is stream


def test_secrets_are_masked_in_repr() -> None:
    config = Config(
        overrides={
            "sudo": {"password": "hunter2"},
            "connect_kwargs": {"password": "pw-123", "passphrase": Secret("pp-456")},
        }
    )
    text = repr(config)
    for secret in ("hunter2", "pw-123", "pp-456"):
        assert secret not in text
    assert "****" in text
    assert repr(Secret("x")) == "Secret('****')"
    assert str(Secret("x")) == "****"
    assert Secret("x").reveal() == "x"


def test_run_settings_are_declared_once() -> None:
    """RunOptions' fields are the run() keyword arguments and the run section of config."""
    from dataclasses import fields

    from corral.config.defaults import global_defaults
    from corral.config.run import CONFIG_ONLY, RunOptions
    from corral.runner.options import RunKwargs

    names = {spec.name for spec in fields(RunOptions)}
    assert set(RunKwargs.__annotations__) == names
    section = global_defaults()["run"]
    assert set(section) == (names - {"timeout"}) | set(CONFIG_ONLY)
    section["env"]["X"] = "1"  # each Config gets its own copy of the defaults
    assert global_defaults()["run"]["env"] == {}


# ---------------------------------------------------------------------- Invoke's levels


def test_code_assignments_survive_a_level_loaded_later() -> None:
    config = Config(overrides={"stage": "qa"})
    config.run.echo = True
    config["deploy"] = {"replicas": 2}
    config.load_collection({"run": {"echo": False, "warn": True}, "deploy": {"replicas": 9}})
    assert (config.run.echo, config.run.warn, config.deploy.replicas) == (True, True, 2)
    assert config.stage == "qa"


def test_load_overrides_stacks_on_the_ones_before_load_collection_replaces() -> None:
    config = Config(overrides={"a": 1, "b": 1})
    config.load_overrides({"b": 2, "c": 2})
    assert (config.a, config.b, config.c) == (1, 2, 2)  # Invoke would have dropped a
    config.load_collection({"d": 1, "a": 0})
    config.load_collection({"e": 1})
    assert "d" not in config and config.a == 1 and config.e == 1
    config.load_defaults({"f": 1, "run": {"echo": False}})
    assert config.f == 1 and "timeouts" not in config  # the defaults were replaced


def test_fabrics_constructor_arguments(tmp_path) -> None:
    config = Config(runtime_ssh_path=tmp_path / "ssh_config", user_ssh_path="~/x")
    assert config.ssh_config_path == str(tmp_path / "ssh_config")
    assert config.user_ssh_path == "~/x"
    config.set_runtime_ssh_path("/etc/other")
    config.set_runtime_ssh_path(None)  # Fab passes -S's value, None when not given
    assert config.ssh_config_path == "/etc/other"
    config.load_ssh_config()  # nothing to do: corral reads ssh_config per host


def test_files_are_read_only_when_asked(tmp_path) -> None:
    (tmp_path / "sys.yaml").write_text("stage: system\nrun: {echo: true}\n")
    (tmp_path / "user.yaml").write_text("stage: user\n")
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "corral.yaml").write_text("stage: project\n")
    (tmp_path / "runtime.yml").write_text("stage: runtime\n")
    system, user = str(tmp_path / "sys"), str(tmp_path / "user")
    assert "stage" not in Config(system_prefix=system, user_prefix=user)  # corral's: no file
    eager = Config(lazy=False, system_prefix=system, user_prefix=user)  # Invoke's default
    assert (eager.stage, eager.run.echo) == ("user", True)
    eager.set_project_location(tmp_path / "project")
    eager.load_project()
    assert eager.stage == "project"
    eager.set_runtime_path(tmp_path / "runtime.yml")
    eager.load_runtime()
    assert eager.stage == "runtime"


def test_a_subclass_names_its_files_and_variables_and_gives_defaults(tmp_path, monkeypatch) -> None:
    class ToolConfig(Config):
        prefix = "tool"

        @staticmethod
        def global_defaults():
            return {**Config.global_defaults(), "stage": "dev"}

    (tmp_path / "tool.yaml").write_text("stage: from-project\n")
    config = ToolConfig(project_location=tmp_path)
    assert config.stage == "dev"
    config.load_project()
    assert config.stage == "from-project"
    monkeypatch.setenv("TOOL_STAGE", "from-env")
    monkeypatch.setenv("CORRAL_STAGE", "not-ours")
    config.load_shell_env()
    assert config.stage == "from-env"  # TOOL_*, not CORRAL_*; above the project file
    config.load_overrides({"stage": "flag"})
    assert config.stage == "flag"
    assert isinstance(config.clone(), ToolConfig)
    assert type(Config().clone(into=ToolConfig)) is ToolConfig


def test_merge_without_arguments_recomputes_and_dataproxy_from_data() -> None:
    config = Config()
    config.merge()
    assert config.run.warn is False
    proxy = DataProxy.from_data({"a": {"b": 1}})
    assert proxy.a.b == 1
