"""The broker against real sshd, with the real `corral` command as a subprocess: a shell loop
of invocations shares one SSH connection; the socket is private and same-uid only; nothing
listens on the network; a dead broker's socket is replaced; an idle broker goes away."""

from __future__ import annotations

import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from corral.broker.protocol import identity, read_frame, send_frame, socket_path
from corral.testing.fleet import SSHDFleet

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "corral"


class Brokered:
    """`corral` invocations with a private runtime directory (so a private broker)."""

    def __init__(self, fleet: SSHDFleet, runtime: Path) -> None:
        self.fleet = fleet
        self.runtime = runtime
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "CORRAL_BROKER": "1"}
        self.env.pop("CORRAL_BROKER_PERSIST", None)

    @property
    def directory(self) -> Path:
        return self.runtime / "corral"

    @property
    def socket(self) -> Path:
        import corral

        return Path(socket_path(str(self.directory), identity(os.path.dirname(corral.__file__))))

    def argv(self, *args: str) -> list[str]:
        return [
            sys.executable, "-m", "corral.broker.client",
            "-S", str(self.fleet.ssh_config_path), *args,
        ]  # fmt: skip

    def run(self, *args: str, broker: bool = True) -> subprocess.CompletedProcess[str]:
        env = self.env if broker else {**self.env, "CORRAL_BROKER": ""}
        return subprocess.run(
            self.argv(*args), env=env, capture_output=True, text=True, timeout=120,
            stdin=subprocess.DEVNULL,
        )  # fmt: skip

    def port(self, *args: str, broker: bool = True) -> str:
        """The client port of the SSH connection the command ran on."""
        host = self.fleet.hosts[0].alias
        done = self.run(*args, "-H", host, "--", "echo $SSH_CONNECTION", broker=broker)
        assert done.returncode == 0, done.stderr
        return done.stdout.split()[1]

    def pid(self) -> int | None:
        """The running broker's pid (it writes it into its lock file), or None."""
        for lock in self.directory.glob("broker-*.lock"):
            text = lock.read_text().strip()
            if text and Path(f"/proc/{text}").exists():
                return int(text)
        return None


@pytest.fixture
def brokered(fleet: SSHDFleet) -> Iterator[Brokered]:
    runtime = Path(tempfile.mkdtemp(prefix="corral-runtime-"))
    runtime.chmod(0o700)
    b = Brokered(fleet, runtime)
    try:
        b.port()  # the broker is started (its first run may go by itself while it starts)
        deadline = time.monotonic() + 60
        while b.pid() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert b.pid() is not None, "no broker started"
        yield b
    finally:
        pid = b.pid()
        if pid is not None:  # never leave a broker behind
            os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 10
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.05)
        subprocess.run(["rm", "-rf", str(runtime)], check=False)


def test_a_shell_loop_of_invocations_shares_one_connection(brokered: Brokered) -> None:
    ports = {brokered.port() for _ in range(4)}
    assert len(ports) == 1
    assert brokered.pid() is not None
    # without the broker, each invocation makes its own connection
    assert len({brokered.port(broker=False) for _ in range(2)} | ports) == 3


def test_output_streams_and_exit_status_come_back_as_without_a_broker(
    brokered: Brokered,
) -> None:
    host = brokered.fleet.hosts[0].alias
    command = ["-H", host, "--", "echo out; echo err >&2; printf 'x\\033[2Jy'; exit 3"]
    through, alone = brokered.run(*command), brokered.run(*command, broker=False)
    assert brokered.pid() is not None
    assert (through.returncode, through.stdout, through.stderr) == (
        alone.returncode,
        alone.stdout,
        alone.stderr,
    )
    assert through.returncode == 3
    assert through.stdout == "out\nx\x1b[2Jy"  # not a terminal here: bytes as they came


def test_other_settings_get_a_connection_of_their_own(brokered: Brokered) -> None:
    first = brokered.port()
    assert brokered.port("-t", "7") != first  # another connect timeout: another connection
    assert brokered.port() == first


def test_the_persistent_session_lives_on_between_invocations(brokered: Brokered) -> None:
    host = brokered.fleet.hosts[0].alias
    shells = {
        brokered.run("--persistent-session", "-H", host, "--", "echo $$").stdout for _ in range(3)
    }
    assert len(shells) == 1


def test_the_socket_is_private_and_another_user_is_refused(brokered: Brokered) -> None:
    brokered.port()
    directory, path = brokered.directory, brokered.socket
    info = directory.lstat()
    assert stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid()
    assert stat.S_IMODE(info.st_mode) == 0o700
    assert stat.S_ISSOCK(path.lstat().st_mode) and stat.S_IMODE(path.lstat().st_mode) == 0o600
    # open the way on purpose: the broker itself must still refuse another uid
    brokered.runtime.chmod(0o755)
    directory.chmod(0o755)
    path.chmod(0o666)
    probe = (  # connects (the way is open), then hears nothing: the broker hung up on it
        "import socket,struct,sys\n"
        "s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])\n"
        "try:\n s.sendall(b'R'+struct.pack('>I',2)+b'{}'); print(repr(s.recv(100)))\n"
        "except (BrokenPipeError, ConnectionResetError): print(repr(b''))\n"
    )
    other = subprocess.run(
        ["runuser", "-u", "corral-other", "--", "/usr/bin/python3", "-c", probe, str(path)],
        capture_output=True, text=True, timeout=30,
    )  # fmt: skip
    assert other.returncode == 0, other.stderr
    assert other.stdout.strip() == "b''"  # closed without a word
    assert brokered.port()  # and it still serves its own user


def _inet_inodes() -> set[str]:
    """The socket inodes of every TCP listener and UDP socket on this machine."""
    found = set()
    for table in ("tcp", "tcp6", "udp", "udp6"):
        for line in Path(f"/proc/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            if table.startswith("udp") or fields[3] == "0A":  # 0A: LISTEN
                found.add(fields[9])
    return found


def test_the_broker_never_listens_on_the_network(brokered: Brokered) -> None:
    brokered.port()
    pid = brokered.pid()
    assert pid is not None
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    assert inodes, "no sockets found: the check is broken"
    assert inodes.isdisjoint(_inet_inodes())
    unix = Path("/proc/net/unix").read_text()
    assert str(brokered.socket) in unix  # its one listener is the Unix socket


def test_a_dead_brokers_socket_is_replaced(brokered: Brokered) -> None:
    first = brokered.port()
    pid = brokered.pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    while Path(f"/proc/{pid}").exists():
        time.sleep(0.05)
    assert brokered.socket.exists()  # left behind, answered by nobody
    assert brokered.port() != first  # a new broker, a new connection
    assert brokered.pid() not in (None, pid)


def test_an_idle_broker_exits_and_removes_its_socket(brokered: Brokered) -> None:
    brokered.port("--broker-persist", "1")  # from now on, idle connections last 1 s
    pid = brokered.pid()
    assert pid is not None
    deadline = time.monotonic() + 60
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(f"/proc/{pid}").exists()
    assert not brokered.socket.exists()


def test_ctrl_c_stops_the_remote_command_and_the_broker_serves_on(brokered: Brokered) -> None:
    first = brokered.port()
    marker = f"64.{os.getpid()}"
    host = brokered.fleet.hosts[0].alias
    client = subprocess.Popen(
        brokered.argv("-H", host, "--", f"echo started; sleep {marker}"),
        env=brokered.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert client.stdout is not None
    assert client.stdout.readline() == "started\n"
    client.send_signal(signal.SIGINT)
    _, err = client.communicate(timeout=60)
    assert client.returncode == 130, err
    pattern = f"[{marker[0]}]{marker[1:]}"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = brokered.fleet.run_as_user(f"pgrep -f 'sleep {pattern}' || true").stdout.strip()
        if not left:
            break
        time.sleep(0.1)
    assert left == ""
    assert brokered.port() == first  # the broker and its connection go on


def test_a_busy_broker_lets_another_invocation_run_by_itself(brokered: Brokered) -> None:
    first = brokered.port()
    host = brokered.fleet.hosts[0].alias
    with subprocess.Popen(
        brokered.argv("-H", host, "--", "echo slow; sleep 3"),
        env=brokered.env, stdout=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    ) as slow:  # fmt: skip
        assert slow.stdout is not None
        assert slow.stdout.readline() == "slow\n"  # the broker is busy with it now
        assert brokered.port() != first  # meanwhile, another invocation ran by itself
        assert slow.wait(timeout=60) == 0


def test_a_frame_from_a_client_is_checked(brokered: Brokered) -> None:
    brokered.port()
    with socket.socket(socket.AF_UNIX) as sock:
        sock.connect(str(brokered.socket))
        send_frame(sock, b"Z", b"nonsense")
        with pytest.raises(EOFError):
            read_frame(sock)  # not a request: closed
    assert brokered.port()
