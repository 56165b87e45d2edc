"""Resolving a host's settings: host string x ssh_config x config, in Fabric's order (no sshd)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from corral.config import Config, Secret
from corral.errors import ConfigError, InvalidHostError
from corral.transport.hoststring import parse_host_string
from corral.transport.target import (
    connect_target,
    expand_proxy_command,
    resolve_host,
    ssh_config_paths,
)

SSH_CONFIG = """
Host web1
    HostName 10.0.0.1
    User deploy
    Port 2201
    ConnectTimeout 7
    ForwardAgent yes
    ServerAliveInterval 5
    ServerAliveCountMax 2

Host behind
    HostName 10.0.0.2
    ProxyJump bastion,ssh://jump2

Host piped
    ProxyCommand nc %h %p # %n

Host strict
    StrictHostKeyChecking accept-new
    UserKnownHostsFile ~/kh1 ~/kh2
    HostKeyAlias alias.example
    IdentityFile /nonexistent/key
    IdentitiesOnly yes
"""


def _config(tmp_path: Path, **overrides: Any) -> Config:
    path = tmp_path / "ssh_config"
    path.write_text(SSH_CONFIG)
    return Config(overrides={"ssh_config_path": str(path), "user": "me", **overrides})


# (host string, resolve_host keyword arguments, config overrides) -> expected settings
CASES: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]] = [
    ("plain", {}, {}, {"host": "plain", "user": "me", "port": 22}),
    ("web1", {}, {}, {"host": "10.0.0.1", "user": "deploy", "port": 2201}),
    ("ops@web1:2222", {}, {}, {"host": "10.0.0.1", "user": "ops", "port": 2222}),
    ("web1", {"user": "root", "port": 2022}, {}, {"user": "root", "port": 2022}),
    ("plain", {}, {"port": 2300}, {"port": 2300}),
    ("web1", {}, {"port": 2300}, {"port": 2201}),  # ssh_config beats corral's config
    ("web1", {}, {}, {"connect_timeout": 7.0, "forward_agent": True}),
    ("web1", {"connect_timeout": 3, "forward_agent": False}, {}, {"connect_timeout": 3.0}),
    ("plain", {}, {"timeouts": {"connect": 4}}, {"connect_timeout": 4.0}),
    ("plain", {}, {"forward_agent": True}, {"forward_agent": True}),
    ("behind", {}, {}, {"proxy_jump": ("bastion", "jump2"), "proxy_command": None}),
    ("piped", {}, {}, {"proxy_jump": None, "proxy_command": "nc %h %p # %n"}),
    ("behind", {}, {"gateway": "none"}, {"proxy_jump": None, "proxy_command": None}),
    ("behind", {"gateway": "ssh -W %h:%p b"}, {}, {"proxy_command": "ssh -W %h:%p b"}),
    ("behind", {"has_gateway_connection": True}, {}, {"proxy_jump": None}),
    ("[::1]:2222", {}, {}, {"host": "::1", "port": 2222}),
    ("plain", {"inline_ssh_env": False}, {}, {"inline_ssh_env": False}),
    ("plain", {}, {}, {"inline_ssh_env": True}),
]


@pytest.mark.parametrize(("host", "kwargs", "overrides", "expected"), CASES)
def test_settings_follow_fabrics_order(
    tmp_path: Path,
    host: str,
    kwargs: dict[str, Any],
    overrides: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    settings = resolve_host(parse_host_string(host), _config(tmp_path, **overrides), **kwargs)
    for name, value in expected.items():
        assert getattr(settings, name) == value, name


def test_secrets_in_connect_kwargs_are_wrapped(tmp_path: Path) -> None:
    settings = resolve_host(
        parse_host_string("plain"),
        _config(tmp_path),
        connect_kwargs={"password": "hunter2", "passphrase": "open sesame"},
    )
    assert isinstance(settings.connect_kwargs["password"], Secret)
    assert "hunter2" not in repr(settings)
    target = connect_target(settings, _config(tmp_path))
    assert "hunter2" not in repr(target) and "open sesame" not in repr(target)


@pytest.mark.parametrize(
    ("host", "kwargs", "message"),
    [
        ("u@plain", {"user": "v"}, "user given both"),
        ("plain:22", {"port": 23}, "port given both"),
        ("plain", {"connect_kwargs": {"pasword": "x"}}, "unknown connect_kwargs pasword"),
    ],
)
def test_contradictions_are_config_errors(
    tmp_path: Path, host: str, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        resolve_host(parse_host_string(host), _config(tmp_path), **kwargs)


def test_a_bad_port_names_its_source(tmp_path: Path) -> None:
    with pytest.raises(InvalidHostError, match="port 70000"):
        resolve_host(parse_host_string("plain"), _config(tmp_path), port=70000)


def test_connect_target_carries_host_key_and_keepalive_settings(tmp_path: Path) -> None:
    config = _config(tmp_path)
    target = connect_target(resolve_host(parse_host_string("strict"), config), config)
    assert target.verifier.policy == "accept-new"
    assert target.verifier.host == "alias.example"
    home = Path("~").expanduser()
    assert target.verifier.files[:2] == (str(home / "kh1"), str(home / "kh2"))
    assert target.client_keys == []  # the IdentityFile does not exist: nothing to offer
    assert target.use_agent is False  # IdentitiesOnly

    target = connect_target(resolve_host(parse_host_string("web1"), config), config)
    assert (target.keepalive_interval, target.keepalive_count_max) == (5.0, 2)
    assert target.where == "deploy@10.0.0.1:2201"


def test_connect_target_expands_a_proxy_command(tmp_path: Path) -> None:
    config = _config(tmp_path)
    target = connect_target(resolve_host(parse_host_string("ops@piped:2200"), config), config)
    assert target.proxy_command == "nc piped 2200 # piped"  # the host string's port wins


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("nc %h %p", "nc 'a b' 22"),
        ("ssh -l %r -W %h:%p gw", "ssh -l 'x;y' -W 'a b':22 gw"),
        ("echo 100%%", "echo 100%"),
        ("echo %z", "echo %z"),
    ],
)
def test_proxy_command_tokens_are_quoted(template: str, expected: str) -> None:
    assert expand_proxy_command(template, "a b", 22, "x;y") == expected


def test_which_ssh_configs_are_read() -> None:
    assert ssh_config_paths(Config(overrides={"load_ssh_configs": False})) == []
    assert ssh_config_paths(Config(overrides={"ssh_config_path": "/x"})) == ["/x"]
    assert ssh_config_paths(Config()) == ["~/.ssh/config", "/etc/ssh/ssh_config"]
