"""rsync's pure parts: the itemize parser, the argv, the -e command and the private ssh_config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from corral.aio import Config, Connection
from corral.config import Secret
from corral.errors import ConfigError, KeyFileError
from corral.remote.rsync import (
    check_credentials,
    host_block,
    parse_itemized,
    remote_shell,
    rsync_command,
    ssh_config_text,
)
from corral.transport.hostkeys import HostKeyVerifier
from corral.transport.ssh import ConnectTarget

# ---------------------------------------------------------------------- parse_itemized

ITEMIZED = [
    # (rsync stdout line, changed, deleted)
    (">f+++++++++ a.txt", ["a.txt"], []),
    ("<f.st...... a.txt", ["a.txt"], []),  # sent (a push) with new size and time
    (">f..t...... sub/b.bin", ["sub/b.bin"], []),
    ("cd+++++++++ ./", ["./"], []),
    ("cd+++++++++ sub/", ["sub/"], []),
    ("cL+++++++++ link", ["link"], []),  # %L is not in the format: no "-> target"
    ("hf+++++++++ hard", ["hard"], []),
    ("cD+++++++++ dev/null-ish", ["dev/null-ish"], []),
    ("*deleting   old/gone", ["old/gone"], ["old/gone"]),
    ("*deleting   old/", ["old/"], ["old/"]),
    ("*deleting   dir with space/x y", ["dir with space/x y"], ["dir with space/x y"]),
    (".d..t...... ./", [], []),  # attributes only: not a change
    (".f...p..... mode-only", [], []),
    (".f          identical (-ii)", [], []),
    (">f+++++++++  leading space", [" leading space"], []),
    (">f+++++++++ arrow -> not a link", ["arrow -> not a link"], []),
    (">f+++++++++ new\\#012line", ["new\nline"], []),
    (">f+++++++++ back\\#134#123slash", ["back\\#123slash"], []),
    (">f+++++++++ caf\\#303\\#251", ["café"], []),
    (">f+++++++++ café", ["café"], []),
    (">f+++++++++ \\#377raw", ["\udcffraw"], []),  # not UTF-8: kept as os.fsdecode would
    # rsync's other lines (-v, --stats, --progress, created target directory) are not items
    ("created directory dest", [], []),
    ("sending incremental file list", [], []),
    ("receiving incremental file list", [], []),
    ("sent 1,234 bytes  received 35 bytes  2,538.00 bytes/sec", [], []),
    ("total size is 5  speedup is 0.01 (DRY RUN)", [], []),
    ("          1,234 100%    1.18MB/s    0:00:00 (xfr#1, to-chk=0/2)", [], []),
    ("Number of files: 3 (reg: 2, dir: 1)", [], []),
    ("", [], []),
]


@pytest.mark.parametrize(("line", "changed", "deleted"), ITEMIZED)
def test_parse_itemized_line(line: str, changed: list[str], deleted: list[str]) -> None:
    assert parse_itemized(line + "\n") == (changed, deleted)


def test_parse_itemized_keeps_rsync_order_and_ignores_carriage_returns() -> None:
    stdout = (
        "*deleting   stale\r\n"
        "cd+++++++++ ./\n"
        "          6 100%    0.00kB/s    0:00:00\r"
        "          6 100%    0.00kB/s    0:00:00 (xfr#1, to-chk=1/3)\n"
        ">f+++++++++ a.txt\n"
        ".d..t...... sub/\n"
        ">f+++++++++ sub/b\n"
    )
    assert parse_itemized(stdout) == (["stale", "./", "a.txt", "sub/b"], ["stale"])


# ---------------------------------------------------------------------- rsync_command

TAIL = ["--protect-args", "--itemize-changes", "--out-format=%i %n", "--rsh", "SH", "--"]

COMMANDS: list[tuple[dict[str, Any], list[str]]] = [
    ({}, ["--archive", *TAIL, "src/", "corral-target:dest"]),
    ({"upload": False}, ["--archive", *TAIL, "corral-target:src/", "dest"]),
    (
        {"delete": True, "checksum": True, "dry_run": True},
        ["--archive", "--checksum", "--dry-run", "--delete", *TAIL, "src/", "corral-target:dest"],
    ),
    ({"archive": False}, [*TAIL, "src/", "corral-target:dest"]),
    (
        {"exclude": ["*.pyc", ".git/"]},
        ["--archive", "--exclude=*.pyc", "--exclude=.git/", *TAIL, "src/", "corral-target:dest"],
    ),
    (
        {"rsync_opts": "--mkpath --chmod='D755,F644'"},
        ["--archive", "--mkpath", "--chmod=D755,F644", *TAIL, "src/", "corral-target:dest"],
    ),
    ({"rsync_opts": ["-z", "--bwlimit=1m"]}, ["--archive", "-z", "--bwlimit=1m", *TAIL]),
    # a colon before any slash would make rsync treat the local path as host:path
    ({"source": "a:b/c"}, ["--archive", *TAIL, "./a:b/c", "corral-target:dest"]),
    ({"source": "/abs/a:b"}, ["--archive", *TAIL, "/abs/a:b", "corral-target:dest"]),
    ({"source": "-dash"}, ["--archive", *TAIL, "-dash", "corral-target:dest"]),  # after --
    (
        {"upload": False, "source": "remote:path", "target": "local:path"},
        ["--archive", *TAIL, "corral-target:remote:path", "./local:path"],
    ),
    ({"target": ""}, ["--archive", *TAIL, "src/", "corral-target:"]),  # the home directory
]


@pytest.mark.parametrize(("options", "expected"), COMMANDS)
def test_rsync_command(options: dict[str, Any], expected: list[str]) -> None:
    arguments: dict[str, Any] = {"source": "src/", "target": "dest", **options}
    argv = rsync_command(rsync="rsync", shell="SH", **arguments)
    assert argv[0] == "rsync"
    assert argv[1 : 1 + len(expected)] == expected


def test_rsync_command_refuses_an_empty_local_path() -> None:
    with pytest.raises(ConfigError, match="local path is empty"):
        rsync_command(rsync="rsync", shell="SH", source="", target="dest")


@pytest.mark.parametrize(
    ("ssh", "config", "options", "expected"),
    [
        ("/usr/bin/ssh", "/tmp/d/ssh_config", (), "/usr/bin/ssh -F /tmp/d/ssh_config"),
        (
            "/usr/bin/ssh",
            "/tmp/d/ssh_config",
            ("-o", "Compression=yes"),
            "/usr/bin/ssh -F /tmp/d/ssh_config -o Compression=yes",
        ),
        ("/opt/my ssh/ssh", "/tmp/it's/c", (), "'/opt/my ssh/ssh' -F '/tmp/it''s/c'"),
        ("ssh", "/t/c", ('"quoted"', "a$b"), "ssh -F /t/c '\"quoted\"' 'a$b'"),
    ],
)
def test_remote_shell_quotes_words_the_way_rsync_splits_them(
    ssh: str, config: str, options: tuple[str, ...], expected: str
) -> None:
    assert remote_shell(ssh, config, options) == expected


# ---------------------------------------------------------------------- ssh_config blocks


def _target(**overrides: Any) -> ConnectTarget:
    verifier_fields: dict[str, Any] = {
        "label": "web",
        "host": "10.0.0.5",
        "port": 2222,
        "policy": "strict",
        "files": ("/k/known_hosts", "/etc/ssh/ssh_known_hosts"),
        "write_file": "/k/known_hosts",
    }
    verifier_fields.update(overrides.pop("verifier", {}))
    fields: dict[str, Any] = {
        "label": "web",
        "hostname": "10.0.0.5",
        "port": 2222,
        "user": "deploy",
        "verifier": HostKeyVerifier(**verifier_fields),
        "client_keys": ["/k/id_ed25519"],
        "use_agent": False,
        **overrides,
    }
    return ConnectTarget(**fields)


def test_host_block_writes_every_setting() -> None:
    assert host_block("corral-target", _target(), None) == (
        "Host corral-target\n"
        '  HostName "10.0.0.5"\n'
        "  Port 2222\n"
        '  User "deploy"\n'
        "  BatchMode yes\n"
        "  PasswordAuthentication no\n"
        "  KbdInteractiveAuthentication no\n"
        '  IdentityFile "/k/id_ed25519"\n'
        "  IdentitiesOnly yes\n"
        "  IdentityAgent none\n"
        "  ForwardAgent no\n"
        '  UserKnownHostsFile "/k/known_hosts" "/etc/ssh/ssh_known_hosts"\n'
        "  GlobalKnownHostsFile /dev/null\n"
        "  HashKnownHosts no\n"
        "  StrictHostKeyChecking yes\n"
        "  CheckHostIP no\n"
        "  UpdateHostKeys no\n"
        "  ConnectTimeout 10\n"
        "  ServerAliveInterval 15\n"
        "  ServerAliveCountMax 3\n"
    )


BLOCK_LINES: list[tuple[dict[str, Any], list[str], list[str]]] = [
    # (ConnectTarget overrides, lines present, lines absent)
    (
        {"verifier": {"policy": "ignore"}},
        [
            "UserKnownHostsFile /dev/null",
            "GlobalKnownHostsFile /dev/null",
            "StrictHostKeyChecking no",
        ],
        ['UserKnownHostsFile "/k/known_hosts" "/etc/ssh/ssh_known_hosts"'],
    ),
    (
        {"verifier": {"policy": "accept-new", "write_file": "/w/kh", "hash_new": True}},
        [
            'UserKnownHostsFile "/w/kh" "/k/known_hosts" "/etc/ssh/ssh_known_hosts"',
            "StrictHostKeyChecking accept-new",
            "HashKnownHosts yes",
        ],
        [],
    ),
    (
        {"verifier": {"host": "web-key"}},
        ['HostKeyAlias "web-key"'],
        [],
    ),
    ({}, [], ["HostKeyAlias"]),
    (
        {"use_agent": True, "agent_path": "/run/agent 1.sock", "forward_agent": True},
        ['IdentityAgent "/run/agent 1.sock"', "ForwardAgent yes"],
        ["IdentitiesOnly yes", "IdentityAgent none"],
    ),
    ({"use_agent": True}, ['IdentityFile "/k/id_ed25519"'], ["IdentityAgent", "IdentitiesOnly"]),
    ({"client_keys": None}, [], ["IdentityFile"]),  # ssh's default keys, as asyncssh's
    (
        {"client_keys": ["/k/a key", "/k/100%", '/k/"q"\\b']},
        [
            'IdentityFile "/k/a key"',
            'IdentityFile "/k/100%%"',  # ssh expands % tokens in IdentityFile
            'IdentityFile "/k/\\"q\\"\\\\b"',
        ],
        [],
    ),
    ({"user": "odd user%"}, ['User "odd user%"'], []),  # User takes no % tokens
    (
        {"connect_timeout": 2.5, "keepalive_interval": 0.0, "keepalive_count_max": 5},
        ["ConnectTimeout 3", "ServerAliveInterval 0", "ServerAliveCountMax 5"],
        [],
    ),
]


@pytest.mark.parametrize(("overrides", "present", "absent"), BLOCK_LINES)
def test_host_block_lines(overrides: dict[str, Any], present: list[str], absent: list[str]) -> None:
    lines = [line.strip() for line in host_block("a", _target(**overrides), None).splitlines()]
    for line in present:
        assert line in lines
    for text in absent:
        assert not any(line.startswith(text) for line in lines)


def test_host_block_relative_key_paths_become_absolute(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    block = host_block("a", _target(client_keys=["keys/id"]), None)
    assert f'IdentityFile "{tmp_path}/keys/id"' in block


def test_host_block_refuses_a_line_break_in_a_value() -> None:
    with pytest.raises(ConfigError, match=r"^web: .* line break"):
        host_block("a", _target(user="deploy\n  ProxyCommand evil"), None)
    with pytest.raises(ConfigError, match="line break"):
        host_block("a", _target(), "nc host 22\nProxyCommand evil")


def test_ssh_config_text_chains_each_hop_through_the_previous_one() -> None:
    chain = [
        _target(label="bastion", hostname="bastion.example", proxy_command="nc -X 5 10.0.0.1 22"),
        _target(label="middle", hostname="10.1.0.1", user="jump"),
        _target(label="web", hostname="10.2.0.5"),
    ]
    text = ssh_config_text(chain, ssh="/usr/bin/ssh", config_path="/tmp/my dir/cfg")
    blocks = text.split("\n\n")[1:]
    assert [b.splitlines()[0] for b in blocks] == [
        "Host corral-hop-1",
        "Host corral-hop-2",
        "Host corral-target",
    ]
    proxies = [[line.strip() for line in b.splitlines() if "ProxyCommand" in line] for b in blocks]
    assert proxies == [
        ["ProxyCommand nc -X 5 10.0.0.1 22"],
        ["ProxyCommand /usr/bin/ssh -F '/tmp/my dir/cfg' -W '[%h]:%p' corral-hop-1"],
        ["ProxyCommand /usr/bin/ssh -F '/tmp/my dir/cfg' -W '[%h]:%p' corral-hop-2"],
    ]
    assert 'User "jump"' in blocks[1] and 'HostName "10.2.0.5"' in blocks[2]


def test_ssh_config_text_keeps_ssh_from_expanding_a_corral_proxy_command() -> None:
    # corral expanded %h and %p already; a % left in the command is literal
    text = ssh_config_text(
        [_target(proxy_command="connect 10.0.0.5 2222 --rate=100%")],
        ssh="ssh",
        config_path="/tmp/%d/cfg",
    )
    assert "  ProxyCommand connect 10.0.0.5 2222 --rate=100%%\n" in text
    assert "Host corral-target" in text  # a single host is the target


def test_ssh_config_text_escapes_percent_in_the_jump_command() -> None:
    text = ssh_config_text([_target(), _target()], ssh="ssh", config_path="/tmp/%d/cfg")
    assert "ProxyCommand ssh -F /tmp/%%d/cfg -W '[%h]:%p' corral-hop-1" in text


# ---------------------------------------------------------------------- credentials


@pytest.fixture
def no_agent(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)


@pytest.mark.usefixtures("no_agent")
def test_a_password_without_key_or_agent_is_refused() -> None:
    target = _target(client_keys=None, use_agent=True, password=Secret("hunter2"))
    with pytest.raises(ConfigError, match=r"web: .*password-only") as caught:
        check_credentials(target)
    assert "hunter2" not in str(caught.value)


@pytest.mark.usefixtures("no_agent")
def test_a_password_with_a_key_or_an_agent_is_accepted(tmp_path: Path) -> None:
    key = tmp_path / "id"
    key.write_text("key")
    check_credentials(_target(client_keys=[str(key)], password=Secret("pw")))
    check_credentials(
        _target(client_keys=None, use_agent=True, agent_path="/a.sock", password=Secret("pw"))
    )


@pytest.mark.usefixtures("no_agent")
def test_an_in_memory_key_is_refused(tmp_path: Path) -> None:
    key = tmp_path / "id"
    key.write_text("key")
    target = _target(client_keys=[str(key)], extra={"client_keys": [object(), str(key)]})
    with pytest.raises(ConfigError, match="pkey"):
        check_credentials(target)


def test_a_missing_key_file_is_a_key_file_error(tmp_path: Path) -> None:
    with pytest.raises(KeyFileError, match="does not exist"):
        check_credentials(_target(client_keys=[str(tmp_path / "nope")]))


# ---------------------------------------------------------------------- the hop chain


def _connection(host: str, gateway: Connection | str | None = None) -> Connection:
    return Connection(host, config=Config(overrides={"load_ssh_configs": False}), gateway=gateway)


def test_hop_chain_lists_hops_outermost_first() -> None:
    hop1 = _connection("u1@hop1:2201", gateway="nc %h %p")
    hop2 = _connection("u2@hop2", gateway=hop1)
    target = _connection("web", gateway=hop2)
    chain = target._chain()
    assert [(t.label, t.user, t.port) for t in chain] == [
        ("hop1", "u1", 2201),
        ("hop2", "u2", 22),
        ("web", chain[2].user, 22),
    ]
    assert chain[0].proxy_command == "nc hop1 2201"  # corral's own expansion
    assert chain[1].proxy_command is None and chain[2].proxy_command is None


def test_hop_chain_refuses_a_loop() -> None:
    hop = _connection("hop")
    target = _connection("web", gateway=hop)
    hop.gateway = target
    with pytest.raises(ConfigError, match="loops"):
        target._chain()
