import asyncssh
import pytest

from corral.errors import ConfigError
from corral.transport.hostkeys import choose_policy, hashed_pattern, host_pattern


@pytest.mark.parametrize(
    ("configured", "ssh_config", "expected"),
    [
        (None, None, "strict"),
        (None, "yes", "strict"),
        (None, "ask", "strict"),
        (None, "accept-new", "accept-new"),
        (None, "no", "ignore"),
        (None, "off", "ignore"),
        ("strict", "no", "strict"),  # corral config wins over ssh_config
        ("accept-new", None, "accept-new"),
    ],
)
def test_policy_comes_from_config_then_ssh_config(
    configured: str | None, ssh_config: str | None, expected: str
) -> None:
    assert choose_policy(configured, ssh_config) == expected


def test_unknown_policy_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="host_key_policy"):
        choose_policy("trust-me", None)


def test_host_pattern_brackets_non_default_ports() -> None:
    assert host_pattern("web1", 22) == "web1"
    assert host_pattern("10.0.0.1", 2222) == "[10.0.0.1]:2222"


def test_hashed_entries_are_understood_by_asyncssh() -> None:
    key = asyncssh.generate_private_key("ssh-ed25519")
    public = key.export_public_key("openssh").decode().strip()
    line = f"{hashed_pattern('[127.0.0.9]:2222')} {public}\n"
    known = asyncssh.import_known_hosts(line)
    trusted, *_ = asyncssh.match_known_hosts(known, "127.0.0.9", "127.0.0.9", 2222)
    assert [k.export_public_key() for k in trusted] == [key.export_public_key()]
    other, *_ = asyncssh.match_known_hosts(known, "127.0.0.8", "127.0.0.8", 2222)
    assert other == []
