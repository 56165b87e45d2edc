import io

from corral.config import Config, Secret


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
    per_call = {"timeout", "creates", "unless", "onlyif"}  # not config: timeouts.command, guards
    assert set(section) == (names - per_call) | set(CONFIG_ONLY)
    assert {"dry", "check", "diff"} <= set(CONFIG_ONLY)
    section["env"]["X"] = "1"  # each Config gets its own copy of the defaults
    assert global_defaults()["run"]["env"] == {}
