"""ssh-agent against real sshd: authenticating with the agent's keys, and agent forwarding."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import corral.aio
from corral import Config, Connection
from corral.errors import AuthenticationError
from corral.testing.fleet import SSHDFleet

from .conftest import fleet_config

pytestmark = pytest.mark.needs("ssh-agent", "ssh-add")


@dataclass
class Agent:
    """A running ssh-agent of the test's own."""

    socket: str
    process: subprocess.Popen[bytes]

    def add(self, key: Path) -> None:
        env = {**os.environ, "SSH_AUTH_SOCK": self.socket}
        subprocess.run(["ssh-add", "-q", str(key)], env=env, check=True, capture_output=True)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(10)


@pytest.fixture
def agent_dir() -> Iterator[Path]:
    # Short: a Unix socket path must fit in 108 bytes, and pytest's tmp_path may not.
    directory = Path(tempfile.mkdtemp(prefix="corral-agent-"))
    try:
        yield directory
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def _start_agent(directory: Path) -> Agent:
    sock = str(directory / "agent.sock")
    process = subprocess.Popen(
        ["ssh-agent", "-D", "-a", sock], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 10
    while not os.path.exists(sock):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"ssh-agent did not start (exit status {process.poll()})")
        time.sleep(0.02)
    return Agent(sock, process)


@pytest.fixture
def empty_agent(agent_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Agent]:
    """An ssh-agent holding no keys, named by SSH_AUTH_SOCK for the test."""
    agent = _start_agent(agent_dir)
    monkeypatch.setenv("SSH_AUTH_SOCK", agent.socket)
    try:
        yield agent
    finally:
        agent.stop()


@pytest.fixture
def agent(empty_agent: Agent, fleet: SSHDFleet) -> Agent:
    """An ssh-agent holding the fleet's client key, named by SSH_AUTH_SOCK for the test."""
    empty_agent.add(fleet.key_path)
    return empty_agent


def _fingerprint(key: Path) -> str:
    out = subprocess.run(
        ["ssh-keygen", "-lf", str(key)], check=True, capture_output=True, text=True
    ).stdout
    return out.split()[1]  # "256 SHA256:... comment (ED25519)"


def _keyless_config(fleet: SSHDFleet, directory: Path, *extra: str) -> Config:
    """A Config whose ssh_config names host1 as `agenthost`, without any IdentityFile."""
    host = fleet.hosts[0]
    lines = [
        "Host agenthost",
        f"  HostName {host.address}",
        f"  Port {host.port}",
        f"  User {fleet.user}",
        f"  UserKnownHostsFile {fleet.known_hosts_path}",
        "  StrictHostKeyChecking yes",
        *(f"  {line}" for line in extra),
    ]
    path = directory / "ssh_config"
    path.write_text("\n".join(lines) + "\n")
    return Config(overrides={"ssh_config_path": str(path)})


NO_KEY_FILES = {"key_filename": [], "look_for_keys": False}


# ---------------------------------------------------------------------- authentication


def test_agent_key_authenticates_when_no_key_file_is_given(
    fleet: SSHDFleet, agent: Agent, tmp_path: Path
) -> None:
    config = _keyless_config(fleet, tmp_path)
    with Connection("agenthost", config=config, connect_kwargs=NO_KEY_FILES) as c:
        assert c.run("whoami", hide=True).stdout == f"{fleet.user}\n"


async def test_agent_key_authenticates_an_aio_connection_with_default_settings(
    fleet: SSHDFleet, agent: Agent, tmp_path: Path
) -> None:
    config = _keyless_config(fleet, tmp_path)
    async with corral.aio.Connection("agenthost", config=config) as c:
        assert (await c.run("whoami", hide=True)).stdout == f"{fleet.user}\n"


def test_without_an_agent_and_without_key_files_authentication_fails(
    fleet: SSHDFleet, tmp_path: Path
) -> None:
    assert "SSH_AUTH_SOCK" not in os.environ
    config = _keyless_config(fleet, tmp_path)
    with pytest.raises(AuthenticationError, match="agenthost"):
        Connection("agenthost", config=config, connect_kwargs=NO_KEY_FILES).open()


def test_allow_agent_false_does_not_use_the_agent(
    fleet: SSHDFleet, agent: Agent, tmp_path: Path
) -> None:
    config = _keyless_config(fleet, tmp_path)
    kwargs = {**NO_KEY_FILES, "allow_agent": False}
    with pytest.raises(AuthenticationError):
        Connection("agenthost", config=config, connect_kwargs=kwargs).open()


def test_agent_path_in_connect_kwargs_overrides_ssh_auth_sock(
    fleet: SSHDFleet, agent: Agent, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSH_AUTH_SOCK", str(tmp_path / "no-agent-here"))
    config = _keyless_config(fleet, tmp_path)
    kwargs = {**NO_KEY_FILES, "agent_path": agent.socket}
    with Connection("agenthost", config=config, connect_kwargs=kwargs) as c:
        assert c.run("whoami", hide=True).stdout == f"{fleet.user}\n"


# FIELD-NOTES case 14: an agent that is gone, or holds no keys, must not stop key-file auth.


@pytest.mark.parametrize("state", ["nonexistent", "stale-socket", "not-a-socket", "empty"])
def test_unusable_agent_falls_back_to_key_files(
    fleet: SSHDFleet,
    agent_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    state: str,
) -> None:
    running: Agent | None = None
    if state == "nonexistent":
        sock = "/nonexistent/agent.sock"
    elif state == "not-a-socket":
        sock = str(tmp_path / "plain-file")
        Path(sock).write_text("")
    else:
        running = _start_agent(agent_dir)
        sock = running.socket
        if state == "stale-socket":  # the agent died and left its socket file behind
            running.process.kill()
            running.process.wait(10)
            assert os.path.exists(sock)
    monkeypatch.setenv("SSH_AUTH_SOCK", sock)
    config = _keyless_config(fleet, tmp_path)
    try:
        with Connection(
            "agenthost", config=config, connect_kwargs={"key_filename": str(fleet.key_path)}
        ) as c:
            assert c.run("whoami", hide=True).stdout == f"{fleet.user}\n"
    finally:
        if running is not None:
            running.stop()


# ---------------------------------------------------------------------- forwarding


def test_forward_agent_lists_the_local_agents_keys_on_the_remote(
    fleet: SSHDFleet, agent: Agent, config: Config
) -> None:
    # The fleet's ssh_config has IdentitiesOnly yes: the agent is not used to log in, and is
    # forwarded all the same (as OpenSSH does).
    with Connection(fleet.hosts[0].alias, config=config, forward_agent=True) as c:
        assert c.forward_agent
        result = c.run("ssh-add -l", hide=True)
    assert _fingerprint(fleet.key_path) in result.stdout


def test_forward_agent_after_agent_authentication(
    fleet: SSHDFleet, agent: Agent, tmp_path: Path
) -> None:
    config = _keyless_config(fleet, tmp_path)
    with Connection(
        "agenthost", config=config, connect_kwargs=NO_KEY_FILES, forward_agent=True
    ) as c:
        listed = c.run("ssh-add -l", hide=True).stdout
    assert _fingerprint(fleet.key_path) in listed


def test_forward_agent_yes_in_ssh_config_forwards_the_agent(
    fleet: SSHDFleet, agent: Agent, tmp_path: Path
) -> None:
    config = _keyless_config(
        fleet, tmp_path, f"IdentityFile {fleet.key_path}", "IdentitiesOnly yes", "ForwardAgent yes"
    )
    with Connection("agenthost", config=config) as c:
        assert c.forward_agent
        listed = c.run("ssh-add -l", hide=True).stdout
    assert _fingerprint(fleet.key_path) in listed


def test_forwarded_agent_lets_the_remote_log_in_to_another_host(
    fleet: SSHDFleet, agent: Agent, config: Config
) -> None:
    # host1 has no key of its own: it logs in to host2 with the forwarded agent only.
    target = fleet.hosts[1]
    hop = (
        f"ssh -F /dev/null -o BatchMode=yes -o IdentitiesOnly=no -o IdentityFile=none "
        f"-o UserKnownHostsFile={fleet.known_hosts_path} -o StrictHostKeyChecking=yes "
        f"-p {target.port} {fleet.user}@{target.address} 'echo $SSH_CONNECTION'"
    )
    with Connection(fleet.hosts[0].alias, config=config, forward_agent=True) as c:
        result = c.run(hop, hide=True)
    assert result.stdout.split()[2] == target.address


@pytest.mark.parametrize("forward_agent", [False, None])
def test_agent_is_not_forwarded_unless_asked(
    fleet: SSHDFleet, agent: Agent, config: Config, forward_agent: bool | None
) -> None:
    with Connection(fleet.hosts[0].alias, config=config, forward_agent=forward_agent) as c:
        assert not c.forward_agent
        result = c.run("echo ${SSH_AUTH_SOCK:-unset}; ssh-add -l", hide=True, warn=True)
    assert result.stdout.splitlines()[0] == "unset"
    assert result.exited == 2  # ssh-add: "Could not open a connection to your authentication agent"


def test_forward_agent_without_a_local_agent_still_runs_commands(
    fleet: SSHDFleet, config: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SSH_AUTH_SOCK", "/nonexistent/agent.sock")
    with Connection(fleet.hosts[0].alias, config=config, forward_agent=True) as c:
        assert c.run("echo fine", hide=True).stdout == "fine\n"


def test_forward_agent_from_config_for_one_host_only(fleet: SSHDFleet, agent: Agent) -> None:
    config = fleet_config(fleet, forward_agent=True)
    with Connection(fleet.hosts[0].alias, config=config) as c:
        listed = c.run("ssh-add -l", hide=True).stdout
    assert _fingerprint(fleet.key_path) in listed


def test_look_for_keys_false_never_reads_default_key_files(
    fleet: SSHDFleet, tmp_path: Path
) -> None:
    # A usable key at ~/.ssh/id_ed25519 must not be tried when look_for_keys=False.
    home = Path(os.environ["HOME"])
    ssh_dir = home / ".ssh"
    ssh_dir.mkdir(exist_ok=True)
    default_key = ssh_dir / "id_ed25519"
    shutil.copy(fleet.key_path, default_key)
    default_key.chmod(0o600)
    host = fleet.hosts[0]
    config_file = tmp_path / "ssh_config"
    config_file.write_text(f"Host *\n  UserKnownHostsFile {fleet.known_hosts_path}\n")
    config = Config(overrides={"ssh_config_path": str(config_file)})
    try:
        with Connection(host.host_string, config=config) as c:  # defaults: the key is found
            c.run("true")
        strict = Connection(
            host.host_string,
            config=config,
            connect_kwargs={"look_for_keys": False, "allow_agent": False},
        )
        with pytest.raises(AuthenticationError):
            strict.run("true")
    finally:
        default_key.unlink()


def _list_agent_keys() -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "corral.cli.main", "--list-agent-keys"],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def test_list_agent_keys_lists_them_as_ssh_add_does(agent: Agent, tmp_path: Path) -> None:
    rsa = tmp_path / "id_rsa"
    subprocess.run(
        [
            "ssh-keygen",
            "-q",
            "-t",
            "rsa",
            "-b",
            "2048",
            "-N",
            "",
            "-C",
            "second key",
            "-f",
            str(rsa),
        ],
        check=True,
    )
    agent.add(rsa)
    listed = _list_agent_keys()
    ssh_add = subprocess.run(["ssh-add", "-l"], capture_output=True, text=True, check=True)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout == ssh_add.stdout
    assert len(listed.stdout.splitlines()) == 2


def test_list_agent_keys_of_an_empty_agent_or_none(
    empty_agent: Agent, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = _list_agent_keys()
    assert (empty.returncode, empty.stdout) == (0, "")
    assert "holds no keys" in empty.stderr
    monkeypatch.delenv("SSH_AUTH_SOCK")
    none = _list_agent_keys()
    assert none.returncode == 1
    assert "SSH_AUTH_SOCK is not set" in none.stderr
