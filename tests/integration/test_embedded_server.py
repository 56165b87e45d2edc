"""The embedded SSH server (corral.testing.fleet.embedded), driven by asyncssh as the client.

Host key checking stays on: every connection verifies the fleet's known_hosts.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncssh
import pytest

from corral.testing.fleet.embedded import EmbeddedFleet

HOSTS = 5


@pytest.fixture(scope="module")
def embedded() -> Iterator[EmbeddedFleet]:
    with EmbeddedFleet(hosts=HOSTS) as running:
        yield running


def connect(embedded: EmbeddedFleet, alias: str = "host1", **kwargs: Any) -> Any:
    """asyncssh.connect to ``alias`` through the fleet's ssh_config and known_hosts."""
    options: dict[str, Any] = {
        "config": [str(embedded.ssh_config_path)],
        "known_hosts": str(embedded.known_hosts_path),
        "client_keys": [str(embedded.key_path)],
        "agent_path": None,
        "connect_timeout": 10,
    }
    options.update(kwargs)
    return asyncssh.connect(alias, **options)


def run(coro: Awaitable[Any]) -> Any:
    async def bounded() -> Any:
        return await asyncio.wait_for(coro, 30)

    return asyncio.run(bounded())


def pgrep(pattern: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True, check=False)
    return [int(pid) for pid in found.stdout.split()]


async def wait_until(predicate: Callable[[], bool], timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if await asyncio.to_thread(predicate):
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)


def unique_sleep(seconds: int) -> tuple[str, str]:
    """A shell command that sleeps, and a pgrep pattern unique to it (sh and sleep)."""
    digits = str(secrets.randbelow(10**8)).zfill(8)
    return f"sleep {seconds}.{digits}; echo done", rf"sleep {seconds}\.{digits}"


def test_files_and_host_strings(embedded: EmbeddedFleet) -> None:
    assert len(embedded.hosts) == HOSTS
    assert len({h.address for h in embedded.hosts}) == HOSTS
    assert len({h.port for h in embedded.hosts}) == 1
    assert [h.alias for h in embedded.hosts] == [f"host{i}" for i in range(1, HOSTS + 1)]
    first = embedded.hosts[0]
    assert embedded.host_strings[0] == f"{embedded.user}@{first.address}:{first.port}"
    assert embedded.key_path.stat().st_mode & 0o077 == 0
    assert embedded.key_path.with_name("id.pub").read_text().startswith("ssh-ed25519 ")
    known = embedded.known_hosts_path.read_text().splitlines()
    assert len(known) == HOSTS and len({line.split()[2] for line in known}) == HOSTS
    config = embedded.ssh_config_path.read_text()
    assert "Host host1\n" in config and f"UserKnownHostsFile {embedded.known_hosts_path}" in config


def test_exit_status_and_separate_streams(embedded: EmbeddedFleet) -> None:
    async def main() -> None:
        async with connect(embedded) as conn:
            ok = await conn.run("true")
            assert ok.exit_status == 0 and ok.exit_signal is None
            three = await conn.run("echo out; echo err >&2; exit 3")
            assert three.exit_status == 3
            assert three.stdout == "out\n"
            assert three.stderr == "err\n"

    run(main())


def test_binary_stdout_and_stdin_round_trip(embedded: EmbeddedFleet) -> None:
    payload = bytes(range(256)) * 1024 + os.urandom(300_000)  # bigger than the SSH windows

    async def main() -> None:
        async with connect(embedded) as conn:
            printed = await conn.run(r"printf '\377\376\000\001end\000'", encoding=None)
            assert printed.stdout == b"\xff\xfe\x00\x01end\x00"
            assert printed.stderr == b""
            echoed = await conn.run("cat", input=payload, encoding=None)
            assert echoed.exit_status == 0
            assert echoed.stdout == payload
            counted = await conn.run("wc -c", input=payload, encoding=None)
            assert counted.stdout.strip() == str(len(payload)).encode()

    run(main())


def test_environment(embedded: EmbeddedFleet) -> None:
    real_home = os.path.realpath(embedded.home)

    async def main() -> None:
        async with connect(embedded) as conn:
            result = await conn.run(
                'printf "%s|%s|%s|%s|" "$CORRAL_X" "$HOME" "$USER" "$LOGNAME"; pwd -P',
                env={"CORRAL_X": "hello world"},
                check=True,
            )
            assert result.stdout == (
                f"hello world|{embedded.home}|{embedded.user}|{embedded.user}|{real_home}\n"
            )

    run(main())


def test_pty(embedded: EmbeddedFleet) -> None:
    async def main() -> None:
        async with connect(embedded) as conn:
            result = await conn.run(
                'tty; stty size; echo "$TERM"; echo to-stderr >&2',
                term_type="xterm",
                term_size=(101, 42),
            )
            assert result.exit_status == 0
            lines = result.stdout.splitlines()
            assert lines[0].startswith("/dev/pts/")
            assert lines[1:] == ["42 101", "xterm", "to-stderr"]  # stderr merged, as on a pty
            assert result.stderr == ""
            plain = await conn.run("tty")
            assert plain.stdout.strip() == "not a tty"

    run(main())


def test_signal_reaches_the_command(embedded: EmbeddedFleet) -> None:
    command, pattern = unique_sleep(30)

    async def main() -> None:
        async with connect(embedded) as conn:
            proc = await conn.create_process(command)
            assert await wait_until(lambda: bool(pgrep(pattern)))
            proc.send_signal("TERM")
            result = await proc.wait()
            assert result.exit_signal is not None and result.exit_signal[0] == "TERM"
            assert result.exit_status == -1
            assert await wait_until(lambda: not pgrep(pattern))

    run(main())


def test_closing_the_connection_kills_the_command(embedded: EmbeddedFleet) -> None:
    command, pattern = unique_sleep(31)

    async def main() -> None:
        conn = await connect(embedded, "host2")
        await conn.create_process(command)
        assert await wait_until(lambda: bool(pgrep(pattern)))
        conn.close()
        await conn.wait_closed()
        assert await wait_until(lambda: not pgrep(pattern)), "command survived the connection"

    run(main())


def test_every_host_has_its_own_address_and_key(embedded: EmbeddedFleet, tmp_path: Path) -> None:
    async def ask(alias: str) -> list[str]:
        async with connect(embedded, alias) as conn:
            result = await conn.run('echo "$SSH_CONNECTION"', check=True)
            fields: list[str] = result.stdout.split()
            return fields

    async def main() -> None:
        answers = await asyncio.gather(*(ask(h.alias) for h in embedded.hosts))
        for host, fields in zip(embedded.hosts, answers, strict=True):
            assert fields[0].startswith("127.")
            assert fields[2:] == [host.address, str(host.port)]

        # host2 presenting host1's key must fail verification: the keys really differ.
        lines = embedded.known_hosts_path.read_text().splitlines()
        host1_key = " ".join(lines[0].split()[1:])
        swapped = tmp_path / "known_hosts"
        swapped.write_text(f"{lines[1].split()[0]} {host1_key}\n")
        with pytest.raises(asyncssh.HostKeyNotVerifiable):
            async with connect(embedded, "host2", known_hosts=str(swapped)):
                pass

    run(main())


def test_sftp_round_trip(embedded: EmbeddedFleet, tmp_path: Path) -> None:
    data = os.urandom(200_000) + b"\x00\xff"
    local = tmp_path / "local.bin"
    local.write_bytes(data)
    remote = tmp_path / "remote.bin"
    back = tmp_path / "back.bin"
    real_home = os.path.realpath(embedded.home)

    async def main() -> None:
        async with connect(embedded, "host3") as conn, conn.start_sftp_client() as sftp:
            assert await sftp.realpath(".") == real_home
            await sftp.put(str(local), str(remote))
            await sftp.get(str(remote), str(back))
            assert (await sftp.stat(str(remote))).size == len(data)

    run(main())
    assert remote.read_bytes() == data
    assert back.read_bytes() == data


def test_password_auth(embedded: EmbeddedFleet) -> None:
    async def main() -> None:
        async with connect(embedded, client_keys=None, password=embedded.password) as conn:
            assert (await conn.run("echo ok", check=True)).stdout == "ok\n"
        with pytest.raises(asyncssh.PermissionDenied):
            await connect(embedded, client_keys=None, password=embedded.password + "x")
        with pytest.raises(asyncssh.PermissionDenied):
            await connect(embedded, username="corral-nobody", password=embedded.password)

    run(main())


def test_port_forwarding_loopback_only(embedded: EmbeddedFleet) -> None:
    async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(await reader.read(100))
        await writer.drain()
        writer.close()

    async def roundtrip(port: int) -> bytes:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"ping")
        data = await reader.read(100)
        writer.close()
        await writer.wait_closed()
        return data

    async def main() -> None:
        server = await asyncio.start_server(echo, "127.0.0.1", 0)
        echo_port = server.sockets[0].getsockname()[1]
        try:
            async with connect(embedded) as conn:
                local = await conn.forward_local_port("127.0.0.1", 0, "127.0.0.1", echo_port)
                assert await roundtrip(local.get_port()) == b"ping"
                local.close()
                with pytest.raises(asyncssh.ChannelOpenError):
                    await conn.open_connection("192.0.2.1", 80)
                remote = await conn.forward_remote_port("127.0.0.1", 0, "127.0.0.1", echo_port)
                assert await roundtrip(remote.get_port()) == b"ping"
                remote.close()
                with pytest.raises(asyncssh.ChannelListenError):
                    await conn.forward_remote_port("0.0.0.0", 0, "127.0.0.1", echo_port)
        finally:
            server.close()
            await server.wait_closed()

    run(main())


def test_stop_leaves_no_process(tmp_path: Path) -> None:
    command, pattern = unique_sleep(32)
    embedded = EmbeddedFleet(hosts=1, directory=tmp_path / "fleet", alias_prefix="node").start()
    server_pid = embedded.pid
    assert server_pid is not None
    assert [h.alias for h in embedded.hosts] == ["node1"]

    async def main() -> None:
        async with connect(embedded, "node1") as conn:
            proc = await conn.create_process(command)
            assert await wait_until(lambda: bool(pgrep(pattern)))
            embedded.stop()
            result = await proc.wait()
            assert result.exit_status != 0

    try:
        run(main())
    finally:
        embedded.stop()
    with pytest.raises(ProcessLookupError):
        os.kill(server_pid, 0)
    assert not pgrep(pattern)
    assert (tmp_path / "fleet" / "ssh_config").exists()  # a given directory is kept


def test_connection_works_against_the_embedded_server() -> None:
    from corral import CommandTimedOut, Config, Connection
    from corral.testing.fleet.embedded import EmbeddedFleet

    with EmbeddedFleet(2) as fleet:
        config = Config(overrides={"ssh_config_path": str(fleet.ssh_config_path)})
        for host in fleet.hosts:
            with Connection(host.alias, config=config) as c:
                result = c.run("echo $SSH_CONNECTION", hide=True)
                assert result.stdout.split()[2] == host.address
                with pytest.raises(CommandTimedOut):
                    c.run("sleep 30", timeout=0.5, hide=True)
