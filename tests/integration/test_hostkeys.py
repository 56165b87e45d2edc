"""Host key verification against real sshd: strict, accept-new, ignore; unknown vs changed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import asyncssh
import pytest

from corral import Config, Connection
from corral.errors import ChangedHostKey, RevokedHostKey, UnknownHostKey
from corral.testing.fleet import SSHDFleet


def _config(fleet: SSHDFleet, tmp_path: Path, known_hosts: Path, extra: str = "") -> Config:
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(
        f"Host *\n  IdentityFile {fleet.key_path}\n  UserKnownHostsFile {known_hosts}\n"
        f"  GlobalKnownHostsFile /dev/null\n{extra}"
    )
    return Config(overrides={"ssh_config_path": str(ssh_config)})


def _entry(fleet: SSHDFleet, index: int) -> str:
    host = fleet.hosts[index]
    wanted = f"[{host.address}]:{host.port} "
    for line in fleet.known_hosts_path.read_text().splitlines():
        if line.startswith(wanted):
            return line
    raise AssertionError(f"no known_hosts line for {wanted}")


def test_unknown_host_is_refused_with_fingerprint_and_fix(fleet: SSHDFleet, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    host = fleet.hosts[0]
    with pytest.raises(UnknownHostKey) as info:
        Connection(host.host_string, config=_config(fleet, tmp_path, known)).run("true")
    message = str(info.value)
    assert host.address in message and "SHA256:" in message
    assert "ssh-keyscan" in message and "accept-new" in message
    assert known.read_text() == ""


def test_changed_host_key_is_refused_even_under_accept_new(
    fleet: SSHDFleet, tmp_path: Path
) -> None:
    host = fleet.hosts[0]
    impostor = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode()
    known = tmp_path / "known_hosts"
    known.write_text(f"# comment\n[{host.address}]:{host.port} {impostor}")
    for extra in ("", "  StrictHostKeyChecking accept-new\n"):
        with pytest.raises(ChangedHostKey) as info:
            Connection(host.host_string, config=_config(fleet, tmp_path, known, extra)).run("true")
        message = str(info.value)
        assert "HOST KEY CHANGED" in message
        assert f"{known}:2" in message  # file:line of the recorded key
        assert "ssh-keygen -R" in message
    assert len(known.read_text().splitlines()) == 2  # nothing was added


def test_accept_new_records_an_unknown_key_then_trusts_it(fleet: SSHDFleet, tmp_path: Path) -> None:
    known = tmp_path / "sub" / "known_hosts"  # directory created on demand
    config = _config(fleet, tmp_path, known)
    config.host_key_policy = "accept-new"
    hosts = fleet.hosts[:2]
    for host in hosts:
        with Connection(host.host_string, config=config) as c:
            assert c.run("echo in", hide=True).stdout == "in\n"
    lines = known.read_text().splitlines()
    assert len(lines) == 2
    for host in hosts:  # OpenSSH itself finds every recorded key
        found = subprocess.run(
            ["ssh-keygen", "-F", f"[{host.address}]:{host.port}", "-f", str(known)],
            capture_output=True,
            text=True,
        )
        assert found.returncode == 0
    config.host_key_policy = "strict"  # now known: strict works
    with Connection(hosts[0].host_string, config=config) as c:
        c.run("true")
    assert len(known.read_text().splitlines()) == 2  # no duplicate


def test_accept_new_from_ssh_config_writes_hashed_entries(fleet: SSHDFleet, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    extra = "  StrictHostKeyChecking accept-new\n  HashKnownHosts yes\n"
    host = fleet.hosts[0]
    with Connection(host.host_string, config=_config(fleet, tmp_path, known, extra)) as c:
        c.run("true")
    line = known.read_text()
    assert line.startswith("|1|") and host.address not in line
    found = subprocess.run(
        ["ssh-keygen", "-F", f"[{host.address}]:{host.port}", "-f", str(known)],
        capture_output=True,
    )
    assert found.returncode == 0


def test_hashed_and_cert_authority_and_revoked_entries(fleet: SSHDFleet, tmp_path: Path) -> None:
    host = fleet.hosts[0]
    known = tmp_path / "known_hosts"
    known.write_text(_entry(fleet, 0) + "\n")
    subprocess.run(["ssh-keygen", "-H", "-f", str(known)], check=True, capture_output=True)
    assert host.address not in known.read_text()
    with Connection(host.host_string, config=_config(fleet, tmp_path, known)) as c:
        c.run("true")  # a hashed entry matches
    key = _entry(fleet, 0).split(" ", 1)[1]
    known.write_text(f"{_entry(fleet, 0)}\n@revoked * {key}\n")
    with pytest.raises(RevokedHostKey, match="revoked"):
        Connection(host.host_string, config=_config(fleet, tmp_path, known)).run("true")


def test_ignore_policy_connects_without_known_hosts(
    fleet: SSHDFleet, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    config = _config(fleet, tmp_path, known, "  StrictHostKeyChecking no\n")
    with Connection(fleet.hosts[0].host_string, config=config) as c:
        assert c.run("echo ok", hide=True).stdout == "ok\n"
    assert "host key checking is off" in caplog.text
    assert known.read_text() == ""  # "no" never saves keys
