"""The test fleet itself: real sshd processes on loopback, checked with OpenSSH's own client."""

from __future__ import annotations

import os
import secrets
import stat
import subprocess
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from corral.testing.fleet import (
    Fleet,
    FleetError,
    FleetUnavailable,
    SSHDFleet,
    sshd_available,
    start_fleet,
)

MakeFleet = Callable[..., SSHDFleet]


def ssh(
    f: Fleet,
    alias: str,
    command: str,
    *options: str,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """OpenSSH's client with the fleet's ssh_config (host key checking on; no prompts unless
    ``options`` say ``BatchMode=no``: ssh takes the first value it is given)."""
    return subprocess.run(
        ["ssh", "-F", str(f.ssh_config_path), *options, "-o", "BatchMode=yes", alias, command],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=False,
    )


def open_session(f: Fleet, alias: str, command: str) -> subprocess.Popen[str]:
    """Start ``ssh alias command`` and return once the remote side printed "started"."""
    p = subprocess.Popen(
        ["ssh", "-F", str(f.ssh_config_path), "-o", "BatchMode=yes", alias,
         f"echo started; {command}"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    assert p.stdout is not None
    assert p.stdout.readline() == "started\n"
    return p


def finish(p: subprocess.Popen[str]) -> None:
    if p.poll() is None:
        p.kill()
    p.communicate(timeout=10)


def pgrep(pattern: str, *options: str) -> list[int]:
    r = subprocess.run(["pgrep", *options, pattern], capture_output=True, text=True, check=False)
    return [int(x) for x in r.stdout.split()]


def unique_sleep() -> str:
    """A command whose whole command line is unique, e.g. ``sleep 30.48213``: the remote
    process can be found with ``pgrep -fx`` (which the local ssh client does not match)."""
    return f"sleep 30.{secrets.randbelow(10**6):06d}"


def running(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        data = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return data.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


# ----------------------------------------------------------------------------- login


def test_login_on_every_host_with_host_key_checking(fleet: Fleet) -> None:
    assert len(fleet.hosts) == 3
    for h in fleet.hosts:
        r = ssh(fleet, h.alias, "echo $SSH_CONNECTION; id -un; pwd")
        assert r.returncode == 0, r.stderr
        client, _cport, server, sport, user, pwd = r.stdout.split()
        assert (client, server, int(sport)) == ("127.0.0.1", h.address, h.port)
        assert (user, pwd) == (fleet.user, str(fleet.home))
        assert r.stderr == ""
    assert fleet.host_strings == [f"{fleet.user}@{h.address}:{h.port}" for h in fleet.hosts]


def test_host_key_checking_is_on(fleet: Fleet, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    r = ssh(fleet, "host1", "true", "-o", f"UserKnownHostsFile={empty}")
    assert r.returncode == 255
    assert "Host key verification failed" in r.stderr
    assert empty.read_text() == ""

    lines = fleet.known_hosts_path.read_text().splitlines()
    assert [line.split()[0] for line in lines] == [f"[{h.address}]:{h.port}" for h in fleet.hosts]
    assert all(line.split()[1] == "ssh-ed25519" for line in lines)


def test_files_and_sshd_config(fleet: Fleet) -> None:
    d = fleet.directory
    assert fleet.key_path == d / "id"
    assert fleet.key_path.with_suffix(".pub").read_text().startswith("ssh-ed25519 ")
    assert (d / "authorized_keys").stat().st_mode & 0o444 == 0o444
    assert stat.S_IMODE((d / "fleet.json").stat().st_mode) == 0o600
    config = fleet.ssh_config_path.read_text()
    assert "Host host1\n  HostName " in config
    assert "StrictHostKeyChecking no" not in config
    sshd_conf = (d / "sshd_0.conf").read_text()
    for line in (
        f"AuthorizedKeysFile {d}/authorized_keys",
        "PasswordAuthentication yes",
        "PermitRootLogin no",
        "Subsystem sftp internal-sftp",
        "MaxStartups 100:30:200",
        "MaxSessions 32",
    ):
        assert f"\n{line}\n" in sshd_conf
    assert "AcceptEnv" not in sshd_conf


def test_twenty_hosts_span_two_sshd_processes(make_fleet: MakeFleet) -> None:
    f = make_fleet(20)
    assert len(f.listener_pids()) == 2
    confs = [(f.directory / f"sshd_{k}.conf").read_text() for k in (0, 1)]
    assert [c.count("ListenAddress ") for c in confs] == [16, 4]
    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(lambda h: ssh(f, h.alias, "echo $SSH_CONNECTION"), f.hosts))
    for h, r in zip(f.hosts, results, strict=True):
        assert r.returncode == 0, (h, r.stderr)
        assert r.stdout.split()[2:] == [h.address, str(h.port)]
    keys = {line.split()[2] for line in f.known_hosts_path.read_text().splitlines()}
    assert len(keys) == 2  # one host key per sshd process


@pytest.mark.slow
def test_three_hundred_hosts(make_fleet: MakeFleet) -> None:
    f = make_fleet(320)
    assert len(f.listener_pids()) == 20
    assert f.hosts[250].address.split(".")[2] == str(int(f.hosts[0].address.split(".")[2]) + 1)
    for h in (f.hosts[0], f.hosts[249], f.hosts[250], f.hosts[-1]):
        r = ssh(f, h.alias, "echo $SSH_CONNECTION")
        assert r.returncode == 0, r.stderr
        assert r.stdout.split()[2] == h.address


# ----------------------------------------------------------------------------- passwords


def test_password_login(fleet: Fleet, tmp_path: Path) -> None:
    askpass = tmp_path / "askpass"
    askpass.write_text('#!/bin/sh\nprintf "%s\\n" "$FLEET_TEST_PASSWORD"\n')
    askpass.chmod(0o700)
    options = (
        "-o", "BatchMode=no",
        "-o", "PubkeyAuthentication=no",
        "-o", "PreferredAuthentications=password",
        "-o", "NumberOfPasswordPrompts=1",
    )  # fmt: skip
    env = dict(os.environ, SSH_ASKPASS=str(askpass), SSH_ASKPASS_REQUIRE="force")

    r = ssh(fleet, "host2", "id -un", *options, env=dict(env, FLEET_TEST_PASSWORD=fleet.password))
    assert (r.returncode, r.stdout) == (0, f"{fleet.user}\n"), r.stderr
    r = ssh(fleet, "host2", "id -un", *options, env=dict(env, FLEET_TEST_PASSWORD="wrong"))
    assert r.returncode == 255
    assert "Permission denied" in r.stderr


def test_sudo_requires_the_password(fleet: Fleet) -> None:
    r = fleet.run_as_user("sudo -S -k -p '' id -un", input=fleet.password + "\n")
    assert (r.returncode, r.stdout, r.stderr) == (0, "root\n", "")
    r = fleet.run_as_user("sudo -S -k -p '' -u corral-other id -un", input=fleet.password + "\n")
    assert (r.returncode, r.stdout) == (0, "corral-other\n"), r.stderr
    r = fleet.run_as_user("sudo -n true")
    assert r.returncode == 1
    assert "a password is required" in r.stderr
    r = fleet.run_as_user("sudo -S -k -p '' true", input="not-the-password\n")
    assert r.returncode == 1
    assert "incorrect password" in r.stderr


# ----------------------------------------------------------------------------- processes


def test_kill_sessions_ends_a_live_session(fleet: SSHDFleet) -> None:
    target, other = fleet.hosts[1], fleet.hosts[0]
    command = unique_sleep()
    victim = open_session(fleet, target.alias, command)
    bystander = open_session(fleet, other.alias, "sleep 30")
    try:
        pids = fleet.session_pids(target)
        assert len(pids) >= 2  # sshd: USER [priv] and sshd: USER@notty
        assert not set(pids) & set(fleet.session_pids(other))

        assert fleet.kill_sessions(target) == len(pids)
        assert victim.wait(timeout=10) == 255
        assert "closed by remote host" in victim.communicate()[1]
        assert fleet.session_pids(target) == []
        assert not any(running(p) for p in pids)
        assert bystander.poll() is None
        assert fleet.session_pids(other)
        # the command the session ran survives the drop, as after a real network failure
        assert pgrep(command, "-fx")
    finally:
        finish(victim)
        finish(bystander)
        for pid in pgrep(command, "-fx"):
            os.kill(pid, 9)


def test_stop_ends_every_process_and_spares_other_fleets(make_fleet: MakeFleet) -> None:
    a, b = make_fleet(2), make_fleet(1)
    assert not {h.address for h in a.hosts} & {h.address for h in b.hosts}
    b_listeners = b.listener_pids()
    b_live = open_session(b, "host1", "sleep 30")

    live_command, orphan_command = unique_sleep(), unique_sleep()
    live = open_session(a, "host1", live_command)
    dropped = open_session(a, "host2", orphan_command)
    try:
        assert a.kill_sessions(a.hosts[1]) >= 2
        dropped.wait(timeout=10)
        orphans = pgrep(orphan_command, "-fx")
        assert orphans  # outlived its session: stop() must still find it
        remote = pgrep(live_command, "-fx") + orphans
        ours = a.listener_pids() + a.session_pids() + remote
        assert len(ours) >= 5

        a.stop()
        assert not [p for p in ours if running(p)]
        assert live.wait(timeout=10) == 255
        assert not a.directory.exists()
        a.stop()  # twice is fine
        assert b.listener_pids() == b_listeners
        assert b_live.poll() is None
        assert b.session_pids()
        r = ssh(b, "host1", "echo ok")
        assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr
    finally:
        finish(live)
        finish(dropped)
        finish(b_live)


def test_restart_keeps_addresses_port_and_host_keys(make_fleet: MakeFleet) -> None:
    f = make_fleet(1, sshd_options={"MaxSessions": "3", "ClientAliveInterval": "30"})
    conf = (f.directory / "sshd_0.conf").read_text()
    assert "\nMaxSessions 3\n" in conf
    assert "MaxSessions 32" not in conf
    assert "\nClientAliveInterval 30\n" in conf
    hosts, known, old = list(f.hosts), f.known_hosts_path.read_text(), f.listener_pids()

    f.restart()
    assert f.listener_pids() != old
    assert not any(running(p) for p in old)
    assert (f.hosts, f.known_hosts_path.read_text()) == (hosts, known)
    r = ssh(f, "host1", "echo ok")
    assert (r.returncode, r.stdout) == (0, "ok\n"), r.stderr


@pytest.mark.needs("sshd")
def test_sshd_that_cannot_start_is_a_clear_error() -> None:
    f = SSHDFleet(1, sshd_options={"NoSuchOption": "1"})
    try:
        with pytest.raises(FleetError, match="Bad configuration option: NoSuchOption"):
            f.start()
        assert f.listener_pids() == []
        assert (f.directory / "sshd_0.log").exists()  # kept for whoever reads the error
    finally:
        f.stop()
    assert not f.directory.exists()


def test_managed_sshd_options_are_refused() -> None:
    with pytest.raises(ValueError, match="ListenAddress"):
        SSHDFleet(1, sshd_options={"ListenAddress": "0.0.0.0"})


def test_not_root_is_a_clear_fleet_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert not sshd_available()
    with pytest.raises(FleetUnavailable, match="root"):
        start_fleet(1, embedded_fallback=False)
    with pytest.raises(FleetUnavailable, match="sshd_options"):
        start_fleet(1, sshd_options={"MaxSessions": "2"})  # only real sshd has these
