"""rsync to and from real sshd hosts, directly and through gateways, with the real rsync."""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import secrets
import shlex
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from corral.aio import Config, Connection
from corral.errors import ConfigError, RsyncError, RsyncTimedOut
from corral.testing.fleet import SSHDFleet

from .conftest import fleet_config

pytestmark = pytest.mark.needs("rsync")

FILES = {
    "a.txt": b"alpha\n",
    "sub/b.bin": bytes(range(256)) * 64,
    "sub/with space.txt": b"spaced out\n",
}


def _make_tree(root: Path, files: dict[str, bytes] = FILES) -> Path:
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def _digests(root: Path) -> dict[str, str]:
    """sha256 of every regular file under root, by path relative to it."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


@pytest.fixture
def remote_dir(fleet: SSHDFleet) -> Iterator[str]:
    """A fresh directory name in the login user's home (the hosts share it); removed after."""
    name = f"rsync-{secrets.token_hex(4)}"
    yield name
    shutil.rmtree(fleet.home / name, ignore_errors=True)


@pytest.fixture
def source(tmp_path: Path) -> Path:
    return _make_tree(tmp_path / "source tree")


def _forwards_to(fleet: SSHDFleet, address: str, port: int) -> list[str]:
    """sshd's record (LogLevel DEBUG1) of each client request to forward to address:port."""
    line = re.compile(
        rf"server_request_direct_tcpip: originator \S+ port \d+, "
        rf"target {re.escape(address)} port {port}$"
    )
    return [
        text
        for log in sorted(fleet.directory.glob("sshd_*.log"))
        for text in log.read_text(errors="replace").splitlines()
        if line.search(text)
    ]


# ---------------------------------------------------------------------- transfers


async def test_push_copies_the_tree_and_lists_what_changed(
    fleet: SSHDFleet, config: Config, source: Path, remote_dir: str
) -> None:
    conn = Connection(fleet.hosts[0].alias, config=config)
    result = await conn.rsync(f"{source}/", remote_dir)
    assert result.ok and result.exited == 0
    assert _digests(fleet.home / remote_dir) == _digests(source)
    assert sorted(result.changed) == ["./", "a.txt", "sub/", "sub/b.bin", "sub/with space.txt"]
    assert result.deleted == []
    assert result.host == fleet.hosts[0].alias
    assert result.connection is conn
    assert result.command[0].endswith("rsync") and result.command[-1] == (
        f"corral-target:{remote_dir}"
    )


async def test_second_identical_push_reports_no_changes(
    fleet: SSHDFleet, config: Config, source: Path, remote_dir: str
) -> None:
    conn = Connection(fleet.hosts[0].alias, config=config)
    await conn.rsync(f"{source}/", remote_dir)
    again = await conn.rsync(f"{source}/", remote_dir)
    assert again.changed == [] and again.deleted == []
    (source / "a.txt").write_bytes(b"alpha, edited\n")
    edited = await conn.rsync(f"{source}/", remote_dir)
    assert edited.changed == ["a.txt"]
    assert _digests(fleet.home / remote_dir) == _digests(source)


async def test_delete_removes_a_remote_extra_file_and_reports_it(
    fleet: SSHDFleet, config: Config, source: Path, remote_dir: str
) -> None:
    conn = Connection(fleet.hosts[0].alias, config=config)
    await conn.rsync(f"{source}/", remote_dir)
    made = fleet.run_as_user(f"echo stale > ~/{remote_dir}/sub/extra.txt")
    assert made.returncode == 0, made.stderr
    kept = await conn.rsync(f"{source}/", remote_dir)  # delete=False leaves it alone
    assert kept.deleted == [] and (fleet.home / remote_dir / "sub/extra.txt").exists()
    result = await conn.rsync(f"{source}/", remote_dir, delete=True)
    assert result.deleted == ["sub/extra.txt"]
    assert result.changed == ["sub/extra.txt"]
    assert not (fleet.home / remote_dir / "sub/extra.txt").exists()
    assert _digests(fleet.home / remote_dir) == _digests(source)


async def test_exclude_skips_matching_paths(
    fleet: SSHDFleet, config: Config, source: Path, remote_dir: str
) -> None:
    conn = Connection(fleet.hosts[0].alias, config=config)
    result = await conn.rsync(f"{source}/", remote_dir, exclude=["*.bin", "with space.txt"])
    assert sorted(result.changed) == ["./", "a.txt", "sub/"]
    assert _digests(fleet.home / remote_dir) == {"a.txt": _digests(source)["a.txt"]}


async def test_dry_run_reports_changes_and_makes_none(
    fleet: SSHDFleet, config: Config, source: Path, remote_dir: str
) -> None:
    conn = Connection(fleet.hosts[0].alias, config=config)
    result = await conn.rsync(f"{source}/", remote_dir, dry_run=True)
    assert "a.txt" in result.changed and "--dry-run" in result.command
    assert not (fleet.home / remote_dir).exists()


async def test_pull_copies_the_remote_tree_here(
    fleet: SSHDFleet, config: Config, remote_dir: str, tmp_path: Path
) -> None:
    made = fleet.run_as_user(
        f"mkdir -p ~/{remote_dir}/deep/er && printf one > ~/{remote_dir}/one.txt && "
        f"head -c 100000 /dev/urandom > ~/{remote_dir}/deep/er/blob"
    )
    assert made.returncode == 0, made.stderr
    conn = Connection(fleet.hosts[1].alias, config=config)
    local = tmp_path / "pulled here"
    result = await conn.rsync(f"{remote_dir}/", str(local), upload=False)
    assert _digests(local) == _digests(fleet.home / remote_dir)
    assert sorted(result.changed) == ["./", "deep/", "deep/er/", "deep/er/blob", "one.txt"]
    assert result.source == f"{remote_dir}/" and result.target == str(local)


async def test_paths_with_spaces_and_shell_metacharacters_are_taken_literally(
    fleet: SSHDFleet,
    config: Config,
    source: Path,
    remote_dir: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    conn = Connection(fleet.hosts[0].alias, config=config)
    odd = "it's a $(touch PWNED) `x` ; dir"
    result = await conn.rsync(f"{source}/", f"{remote_dir}/{odd}", rsync_opts="--mkpath")
    assert _digests(fleet.home / remote_dir / odd) == _digests(source)
    assert "sub/with space.txt" in result.changed
    assert not (fleet.home / "PWNED").exists() and not (fleet.home / remote_dir / "PWNED").exists()
    monkeypatch.chdir(source.parent)
    # a colon before any slash would make rsync read a local path as "host:path"
    await conn.rsync(f"{remote_dir}/{odd}/", "back: here", upload=False)
    assert _digests(source.parent / "back: here") == _digests(source)


async def test_rsync_runs_ssh_on_a_private_config_with_the_words_it_was_given(
    fleet: SSHDFleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An ssh stand-in records what rsync ran it with (rsync splits the -e command itself),
    # and the generated config while it exists.
    record = tmp_path / "record"
    record.mkdir()
    fake = tmp_path / "bin" / "ssh"
    fake.parent.mkdir()
    fake.write_text(
        "#!/bin/sh\n"
        f"for a in \"$@\"; do printf '%s\\0' \"$a\"; done > '{record}/argv'\n"
        f"stat -c %a \"$2\" > '{record}/mode'\n"
        f"cp \"$2\" '{record}/config'\n"
        "exit 255\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake.parent}:{os.environ['PATH']}")
    conn = Connection(
        fleet.hosts[0].host_string,
        config=Config(overrides={"load_ssh_configs": False}),
        connect_kwargs={"key_filename": str(fleet.key_path), "password": "s3cret-pw"},
    )
    odd = ["-o", 'SendEnv=it\'s "odd" $HOME']
    with pytest.raises(RsyncError) as caught:
        await conn.rsync("/etc/hostname", "x", ssh_opts=odd)
    # 255 ("ssh failed") when rsync reaps the dead ssh before it notices the closed pipe, 12
    # (protocol stream) otherwise: rsync's own race, seen under load
    assert caught.value.result.exited in (12, 255)
    argv = (record / "argv").read_bytes().decode().split("\0")[:-1]
    assert argv[0] == "-F" and argv[2:4] == odd and argv[4] == "corral-target"
    assert argv[5] == "rsync" and "--server" in argv
    assert (record / "mode").read_text().strip() == "600"
    assert _gone(os.path.dirname(argv[1]))  # removed afterwards
    config = (record / "config").read_text()
    host = fleet.hosts[0]
    assert f'HostName "{host.address}"\n  Port {host.port}\n  User "{fleet.user}"' in config
    assert f'IdentityFile "{fleet.key_path}"' in config
    for text in (config, " ".join(caught.value.result.command), str(caught.value)):
        assert "s3cret-pw" not in text


# ---------------------------------------------------------------------- gateways


async def test_rsync_through_a_gateway_connection_goes_through_the_bastion(
    make_fleet: Callable[..., SSHDFleet], source: Path
) -> None:
    # Proof of the route: at LogLevel DEBUG1 sshd logs each direct-tcpip request, which only a
    # client forwarding *through* a host makes. In this fresh fleet nothing else forwards, and
    # a direct connection to the target makes no such request, so the line cannot appear by
    # accident: it shows rsync's ssh asked the bastion to open the target's address and port.
    fleet = make_fleet(2, sshd_options={"LogLevel": "DEBUG1"})
    bastion_host, target_host = fleet.hosts
    config = fleet_config(fleet)
    bastion = Connection(bastion_host.alias, config=config)
    conn = Connection(target_host.alias, config=config, gateway=bastion)
    assert _forwards_to(fleet, target_host.address, target_host.port) == []
    await conn.rsync(f"{source}/", "via-bastion")
    assert _digests(fleet.home / "via-bastion") == _digests(source)
    assert len(_forwards_to(fleet, target_host.address, target_host.port)) == 1
    shutil.rmtree(fleet.home / "via-bastion")


async def test_rsync_through_a_proxy_jump_chain_of_two_hops(
    make_fleet: Callable[..., SSHDFleet], source: Path, tmp_path: Path
) -> None:
    fleet = make_fleet(3, sshd_options={"LogLevel": "DEBUG1"})
    hop1, hop2, target = fleet.hosts
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(
        f"Host behind\n  HostName {target.address}\n  ProxyJump {hop1.alias},{hop2.alias}\n"
        f"  Port {target.port}\n  User {fleet.user}\n  IdentityFile {fleet.key_path}\n"
        f"  UserKnownHostsFile {fleet.known_hosts_path}\n\n{fleet.ssh_config_path.read_text()}"
    )
    conn = Connection("behind", config=Config(overrides={"ssh_config_path": str(ssh_config)}))
    result = await conn.rsync(f"{source}/", "via-two-hops")
    assert _digests(fleet.home / "via-two-hops") == _digests(source)
    assert "a.txt" in result.changed
    # hop1 was asked to reach hop2, and hop2 to reach the target; never hop1 (the first hop)
    assert len(_forwards_to(fleet, hop2.address, hop2.port)) == 1
    assert len(_forwards_to(fleet, target.address, target.port)) == 1
    assert _forwards_to(fleet, hop1.address, hop1.port) == []
    shutil.rmtree(fleet.home / "via-two-hops")


async def test_a_gateway_that_refuses_to_forward_fails_the_rsync(
    make_fleet: Callable[..., SSHDFleet], source: Path
) -> None:
    # The other half of the proof: when the bastion refuses forwarding, the same rsync fails,
    # while a direct rsync to the same target works: the traffic depends on the bastion.
    fleet = make_fleet(2, sshd_options={"PermitOpen": "none"})
    config = fleet_config(fleet)
    bastion = Connection(fleet.hosts[0].alias, config=config)
    conn = Connection(fleet.hosts[1].alias, config=config, gateway=bastion)
    with pytest.raises(RsyncError, match="refused to forward") as caught:
        await conn.rsync(f"{source}/", "refused")
    assert caught.value.host == fleet.hosts[1].alias
    assert not (fleet.home / "refused").exists()
    direct = Connection(fleet.hosts[1].alias, config=config)
    await direct.rsync(f"{source}/", "refused")
    assert _digests(fleet.home / "refused") == _digests(source)
    shutil.rmtree(fleet.home / "refused")


async def test_a_proxy_command_gateway_is_used(
    fleet: SSHDFleet, config: Config, source: Path, remote_dir: str
) -> None:
    bastion, host = fleet.hosts[0], fleet.hosts[1]
    gateway = f"ssh -F {fleet.ssh_config_path} -o BatchMode=yes -W %h:%p {bastion.alias}"
    conn = Connection(host.alias, config=config, gateway=gateway)
    await conn.rsync(f"{source}/", remote_dir)
    assert _digests(fleet.home / remote_dir) == _digests(source)
    broken = Connection(host.alias, config=config, gateway="false %h %p")
    with pytest.raises(RsyncError):
        await broken.rsync(f"{source}/", remote_dir)


# ---------------------------------------------------------------------- refusals and failures


async def test_an_unknown_host_key_fails_with_a_clear_error(
    fleet: SSHDFleet, source: Path, remote_dir: str, tmp_path: Path
) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    host = fleet.hosts[0]
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(
        f"Host stranger\n  HostName {host.address}\n  Port {host.port}\n  User {fleet.user}\n"
        f"  IdentityFile {fleet.key_path}\n  UserKnownHostsFile {empty}\n"
    )
    conn = Connection("stranger", config=Config(overrides={"ssh_config_path": str(ssh_config)}))
    with pytest.raises(RsyncError, match="could not verify a host key") as caught:
        await conn.rsync(f"{source}/", remote_dir)
    assert str(caught.value).startswith("stranger: ")
    assert "Host key verification failed" in caught.value.result.stderr
    assert caught.value.result.exited in (12, 255)  # rsync's own race: see above
    assert "(ssh failed)" in str(caught.value)
    assert empty.read_text() == ""  # strict: nothing recorded
    assert not (fleet.home / remote_dir).exists()


async def test_accept_new_records_the_host_key_where_corral_would(
    fleet: SSHDFleet, source: Path, remote_dir: str, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    host = fleet.hosts[0]
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(
        f"Host fresh\n  HostName {host.address}\n  Port {host.port}\n  User {fleet.user}\n"
        f"  IdentityFile {fleet.key_path}\n  UserKnownHostsFile {known}\n"
        "  StrictHostKeyChecking accept-new\n"
    )
    conn = Connection("fresh", config=Config(overrides={"ssh_config_path": str(ssh_config)}))
    await conn.rsync(f"{source}/", remote_dir)
    assert known.read_text().startswith(f"[{host.address}]:{host.port} ssh-ed25519 ")
    assert _digests(fleet.home / remote_dir) == _digests(source)


async def test_host_key_alias_is_looked_up_as_openssh_does(
    fleet: SSHDFleet, source: Path, remote_dir: str, tmp_path: Path
) -> None:
    host = fleet.hosts[0]
    pattern = f"[{host.address}]:{host.port} "
    entry = next(
        x for x in fleet.known_hosts_path.read_text().splitlines() if x.startswith(pattern)
    )
    known = tmp_path / "known_hosts"
    known.write_text(f"web-key {entry[len(pattern) :]}\n")  # as OpenSSH records an alias
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(
        f"Host aliased\n  HostName {host.address}\n  Port {host.port}\n  User {fleet.user}\n"
        f"  IdentityFile {fleet.key_path}\n  UserKnownHostsFile {known}\n"
        "  HostKeyAlias web-key\n"
    )
    conn = Connection("aliased", config=Config(overrides={"ssh_config_path": str(ssh_config)}))
    await conn.rsync(f"{source}/", remote_dir)
    assert _digests(fleet.home / remote_dir) == _digests(source)
    known.write_text(f"{pattern}{entry[len(pattern) :]}\n")  # only under the address: refused
    with pytest.raises(RsyncError, match="could not verify a host key"):
        await conn.rsync(f"{source}/", remote_dir)


async def test_a_password_only_connection_raises_config_error(fleet: SSHDFleet) -> None:
    conn = Connection(
        fleet.hosts[0].host_string,
        config=Config(overrides={"load_ssh_configs": False}),
        connect_kwargs={"password": fleet.password},
    )
    with pytest.raises(ConfigError, match="password-only") as caught:
        await conn.rsync("/etc/hostname", "x")
    assert fleet.hosts[0].address in str(caught.value)
    assert fleet.password not in str(caught.value)


async def test_a_failed_transfer_raises_rsync_error_with_host_command_and_stderr(
    fleet: SSHDFleet, config: Config, tmp_path: Path
) -> None:
    conn = Connection(fleet.hosts[2].alias, config=config)
    with pytest.raises(RsyncError) as caught:
        await conn.rsync("no/such/path", str(tmp_path / "out"), upload=False)
    error = caught.value
    assert error.result.exited == 23 and not error.result.ok
    message = str(error)
    assert message.startswith(f"{fleet.hosts[2].alias}: rsync exited with status 23")
    assert "corral-target:no/such/path" in message
    assert "No such file or directory" in message


async def test_ssh_opts_reach_the_ssh_command(
    fleet: SSHDFleet, config: Config, source: Path, remote_dir: str
) -> None:
    conn = Connection(fleet.hosts[0].alias, config=config)
    with pytest.raises(RsyncError, match="Connection refused"):
        await conn.rsync(f"{source}/", remote_dir, ssh_opts="-o Port=1")


async def test_timeout_stops_rsync_and_its_ssh(
    fleet: SSHDFleet, config: Config, source: Path, remote_dir: str
) -> None:
    conn = Connection(fleet.hosts[0].alias, config=config)
    started = time.monotonic()
    with pytest.raises(RsyncTimedOut) as caught:
        await conn.rsync(
            f"{source}/", remote_dir, rsync_opts=["--rsync-path=sleep 30; rsync"], timeout=1
        )
    assert time.monotonic() - started < 10
    assert isinstance(caught.value, TimeoutError)
    shell = caught.value.result.command[caught.value.result.command.index("--rsh") + 1]
    config_path = shlex.split(shell)[2]  # the private ssh_config: unique to this run
    assert _processes_mentioning(config_path) == []
    assert _gone(os.path.dirname(config_path))  # the private directory is removed


async def test_cancelling_rsync_stops_rsync_and_its_ssh(
    fleet: SSHDFleet, config: Config, source: Path, remote_dir: str
) -> None:
    conn = Connection(fleet.hosts[0].alias, config=config)
    marker = f"--rsync-path=sleep 31; rsync --corral-{remote_dir}"  # names this run's rsync
    task = asyncio.create_task(conn.rsync(f"{source}/", remote_dir, rsync_opts=[marker]))
    group: list[str] = []
    for _ in range(100):
        await asyncio.sleep(0.05)
        found = _processes_mentioning(marker)
        group = _process_group(found[0]) if found else []
        if len(group) >= 2:  # rsync and the ssh it started, in rsync's own process group
            break
    assert len(group) >= 2
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [pid for pid in group if _alive(pid)] == []


def _process_group(pid: str) -> list[str]:
    """The PIDs in pid's process group."""

    def pgrp(one: str) -> str | None:
        try:
            stat = Path(f"/proc/{one}/stat").read_text()
        except OSError:
            return None
        return stat[stat.rindex(")") + 2 :].split()[2]

    leader = pgrp(pid)
    return [one for one in filter(str.isdigit, os.listdir("/proc")) if pgrp(one) == leader]


def _alive(pid: str) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


def _processes_mentioning(text: str) -> list[str]:
    """PIDs of the processes whose command line contains text."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if text.encode() in cmdline:
            found.append(pid)
    return found


def _gone(path: str) -> bool:
    return not os.path.exists(path)


async def test_a_file_permission_error_is_not_blamed_on_ssh(
    fleet: SSHDFleet, config: Config, source: Path, tmp_path: Path
) -> None:
    locked = tmp_path / "locked"  # on this machine, where root owns it: read-only for the user
    locked.mkdir(mode=0o755)
    conn = Connection(fleet.hosts[0].alias, config=config)
    with pytest.raises(RsyncError) as caught:
        await conn.rsync(f"{source}/", str(locked / "inside"))
    message = str(caught.value)
    assert caught.value.result.exited in (3, 11, 23)  # selecting files, file I/O, partial
    assert "Permission denied (13)" in message  # rsync's own words are kept...
    for blame in ("ssh authentication", "(ssh failed)", "host key", "gateway refused"):
        assert blame not in message  # ...and nothing blames the ssh step
