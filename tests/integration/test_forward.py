"""Port forwarding against real sshd: forward_local, forward_remote, refused ports, cleanup."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import socketserver
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator

import pytest

import corral
import corral.aio
from corral import Config
from corral.errors import ConfigError, ForwardError, HostError
from corral.testing.fleet import SSHDFleet

from .conftest import fleet_config


class EchoServer:
    """A TCP server on this machine that sends back what it receives."""

    def __init__(self) -> None:
        self.port = 0
        self.connections = 0

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def echo() -> AsyncIterator[EchoServer]:
    server = EchoServer()
    listener = await asyncio.start_server(server._handle, "127.0.0.1", 0)
    server.port = listener.sockets[0].getsockname()[1]
    async with listener:
        yield server


@pytest.fixture
async def conn(fleet: SSHDFleet, config: Config) -> AsyncIterator[corral.aio.Connection]:
    async with corral.aio.Connection(fleet.hosts[0].alias, config=config) as c:
        yield c


async def _exchange(port: int, data: bytes, host: str = "127.0.0.1") -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.readexactly(len(data)), 10)
    finally:
        writer.close()
        await writer.wait_closed()


async def _assert_refused(port: int, host: str = "127.0.0.1") -> None:
    with pytest.raises(ConnectionRefusedError):
        _, writer = await asyncio.open_connection(host, port)
        writer.close()


def _remote_exchange(port: int, text: str) -> str:
    """Shell text for the remote: connect to 127.0.0.1:port, send `text`, print the answer."""
    return (
        f"exec 3<>/dev/tcp/127.0.0.1/{port} && printf %s {text} >&3 && "
        f"timeout 10 head -c {len(text)} <&3"
    )


def _remote_probe(port: int) -> str:
    """Shell text printing whether something listens on the remote's 127.0.0.1:port."""
    return (
        f"if (exec 3<>/dev/tcp/127.0.0.1/{port}) 2>/dev/null; then echo open; else echo refused; fi"
    )


@contextlib.contextmanager
def _occupied(host: str = "127.0.0.1") -> Iterator[socket.socket]:
    sock = socket.socket()
    sock.bind((host, 0))
    sock.listen()
    try:
        yield sock
    finally:
        sock.close()


# ---------------------------------------------------------------------- forward_local


async def test_forward_local_relays_to_a_server_reached_from_the_remote(
    conn: corral.aio.Connection, echo: EchoServer
) -> None:
    async with conn.forward_local(
        0, remote_port=echo.port, remote_host="127.0.0.1", local_host="127.0.0.1"
    ) as port:
        assert port not in (0, echo.port)
        assert await _exchange(port, b"hello through ssh") == b"hello through ssh"
    assert echo.connections == 1


async def test_forward_local_with_fabric_defaults_uses_localhost_on_both_ends(
    conn: corral.aio.Connection, echo: EchoServer
) -> None:
    async with conn.forward_local(0, remote_port=echo.port) as port:
        assert await _exchange(port, b"ping", host="localhost") == b"ping"


async def test_forward_local_remote_port_defaults_to_the_local_port(
    conn: corral.aio.Connection, echo: EchoServer
) -> None:
    # The echo server holds 127.0.0.1:PORT, so listen on 127.0.0.2:PORT (same port number).
    async with conn.forward_local(echo.port, local_host="127.0.0.2") as port:
        assert port == echo.port
        assert await _exchange(port, b"same port", host="127.0.0.2") == b"same port"


async def test_forward_local_carries_concurrent_connections(
    conn: corral.aio.Connection, echo: EchoServer
) -> None:
    async with conn.forward_local(0, remote_port=echo.port, remote_host="127.0.0.1") as port:
        payloads = [bytes([i]) * (1000 + i * 50_000) for i in range(6)]
        answers = await asyncio.gather(*(_exchange(port, p) for p in payloads))
    assert answers == payloads
    assert echo.connections == 6


async def test_forward_local_listener_is_gone_after_the_block(
    conn: corral.aio.Connection, echo: EchoServer
) -> None:
    async with conn.forward_local(0, remote_port=echo.port, remote_host="127.0.0.1") as port:
        await _exchange(port, b"x")
    await _assert_refused(port)
    assert (await conn.run("echo still-open", hide=True)).stdout == "still-open\n"


async def test_forward_local_listener_is_closed_after_an_exception_in_the_block(
    conn: corral.aio.Connection, echo: EchoServer
) -> None:
    with pytest.raises(RuntimeError, match="inside the block"):
        async with conn.forward_local(0, remote_port=echo.port) as port:
            raise RuntimeError("inside the block")
    await _assert_refused(port)


async def test_forward_local_listener_is_closed_when_the_task_is_cancelled(
    conn: corral.aio.Connection, echo: EchoServer
) -> None:
    ports: list[int] = []
    listening = asyncio.Event()

    async def hold() -> None:
        async with conn.forward_local(0, remote_port=echo.port) as port:
            ports.append(port)
            listening.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(hold())
    await asyncio.wait_for(listening.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await _assert_refused(ports[0])


async def test_forward_local_exit_does_not_wait_for_relayed_connections(
    conn: corral.aio.Connection, echo: EchoServer
) -> None:
    async with conn.forward_local(0, remote_port=echo.port, remote_host="127.0.0.1") as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"held")
        assert await asyncio.wait_for(reader.readexactly(4), 10) == b"held"
        started = time.monotonic()
    try:
        assert time.monotonic() - started < 2
        await _assert_refused(port)  # no new connections, though one is still open
    finally:
        writer.close()


async def test_forward_local_on_a_taken_port_names_address_port_and_host(
    conn: corral.aio.Connection, echo: EchoServer
) -> None:
    with _occupied() as sock:
        taken = sock.getsockname()[1]
        with pytest.raises(ForwardError) as info:
            async with conn.forward_local(taken, remote_port=echo.port, local_host="127.0.0.1"):
                pytest.fail("the block must not run")
    message = str(info.value)
    assert isinstance(info.value, HostError)
    assert info.value.host == conn.original_host
    assert f"127.0.0.1:{taken}" in message
    assert "already in use" in message
    assert message.startswith(f"{conn.original_host}: ")
    assert "asyncssh" not in message and "error while attempting" not in message
    assert isinstance(info.value.__cause__, OSError)  # chained for --debug, not in the message


async def test_forward_local_port_zero_needs_an_explicit_remote_port(
    conn: corral.aio.Connection,
) -> None:
    with pytest.raises(ConfigError, match="remote_port"):
        async with conn.forward_local(0):
            pytest.fail("the block must not run")
    assert not conn.is_connected  # refused before connecting


# ---------------------------------------------------------------------- forward_remote


async def test_forward_remote_lets_the_remote_reach_a_local_server(
    conn: corral.aio.Connection, echo: EchoServer
) -> None:
    async with conn.forward_remote(0, local_port=echo.port, local_host="127.0.0.1") as port:
        assert port != 0  # the port the server chose
        result = await conn.run(_remote_exchange(port, "from-the-remote"), hide=True)
    assert result.stdout == "from-the-remote"
    assert echo.connections == 1


async def test_forward_remote_local_port_defaults_to_the_remote_port(
    conn: corral.aio.Connection,
) -> None:
    # A local server on 127.0.0.2:PORT; the remote (this machine) listens on 127.0.0.1:PORT.
    server = EchoServer()
    listener = await asyncio.start_server(server._handle, "127.0.0.2", 0)
    port = listener.sockets[0].getsockname()[1]
    async with listener:
        async with conn.forward_remote(port, local_host="127.0.0.2") as remote_port:
            assert remote_port == port
            result = await conn.run(_remote_exchange(port, "default-port"), hide=True)
    assert result.stdout == "default-port"


async def test_forward_remote_listener_is_gone_after_the_block(
    conn: corral.aio.Connection, echo: EchoServer
) -> None:
    async with conn.forward_remote(0, local_port=echo.port) as port:
        assert (await conn.run(_remote_probe(port), hide=True)).stdout == "open\n"
    assert (await conn.run(_remote_probe(port), hide=True)).stdout == "refused\n"


async def test_forward_remote_listener_is_closed_after_an_exception_in_the_block(
    conn: corral.aio.Connection, echo: EchoServer
) -> None:
    with pytest.raises(RuntimeError, match="inside the block"):
        async with conn.forward_remote(0, local_port=echo.port) as port:
            raise RuntimeError("inside the block")
    assert (await conn.run(_remote_probe(port), hide=True)).stdout == "refused\n"
    # The same port can be forwarded again at once.
    async with conn.forward_remote(port, local_port=echo.port, local_host="127.0.0.1"):
        result = await conn.run(_remote_exchange(port, "again"), hide=True)
    assert result.stdout == "again"


async def test_forward_remote_listener_is_closed_when_the_task_is_cancelled(
    conn: corral.aio.Connection, echo: EchoServer
) -> None:
    ports: list[int] = []
    listening = asyncio.Event()

    async def hold() -> None:
        async with conn.forward_remote(0, local_port=echo.port) as port:
            ports.append(port)
            listening.set()
            await asyncio.sleep(3600)

    task = asyncio.create_task(hold())
    await asyncio.wait_for(listening.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await conn.run(_remote_probe(ports[0]), hide=True)).stdout == "refused\n"


async def test_forward_remote_on_a_taken_port_says_the_server_refused(
    fleet: SSHDFleet, config: Config, conn: corral.aio.Connection, echo: EchoServer
) -> None:
    async with conn.forward_remote(0, local_port=echo.port) as port:
        async with corral.aio.Connection(fleet.hosts[0].alias, config=config) as other:
            with pytest.raises(ForwardError) as info:
                async with other.forward_remote(port, local_port=echo.port):
                    pytest.fail("the block must not run")
        with pytest.raises(ForwardError) as again:  # the same connection asking twice
            async with conn.forward_remote(port, local_port=echo.port):
                pytest.fail("the block must not run")
        # The first forward is unharmed.
        result = await conn.run(_remote_exchange(port, "first"), hide=True)
        assert result.stdout == "first"
    message = str(info.value)
    assert info.value.host == fleet.hosts[0].alias
    assert message.startswith(f"{fleet.hosts[0].alias}: ")
    assert "refused" in message and f"127.0.0.1:{port}" in message
    assert "in use" in message
    assert f"127.0.0.1:{port}" in str(again.value)


async def test_forward_remote_forbidden_by_the_server_raises_forward_error(
    make_fleet: Callable[..., SSHDFleet], echo: EchoServer
) -> None:
    strict = make_fleet(1, sshd_options={"AllowTcpForwarding": "no"})
    async with corral.aio.Connection(strict.hosts[0].alias, config=fleet_config(strict)) as c:
        with pytest.raises(ForwardError, match=r"refused.*AllowTcpForwarding"):
            async with c.forward_remote(0, local_port=echo.port):
                pytest.fail("the block must not run")
        assert (await c.run("echo usable", hide=True)).stdout == "usable\n"


async def test_forward_remote_port_zero_needs_an_explicit_local_port(
    conn: corral.aio.Connection,
) -> None:
    with pytest.raises(ConfigError, match="local_port"):
        async with conn.forward_remote(0):
            pytest.fail("the block must not run")


# ---------------------------------------------------------------------- lost connections


@pytest.mark.parametrize("direction", ["local", "remote"])
async def test_forward_block_exits_quietly_when_the_connection_was_closed_inside(
    conn: corral.aio.Connection, echo: EchoServer, direction: str
) -> None:
    forward = conn.forward_local if direction == "local" else conn.forward_remote
    async with forward(0, echo.port):
        await conn.close()
    assert not conn.is_connected


async def test_forward_block_exits_promptly_when_the_server_drops_the_connection(
    make_fleet: Callable[..., SSHDFleet], echo: EchoServer
) -> None:
    fleet = make_fleet(1)
    async with corral.aio.Connection(fleet.hosts[0].alias, config=fleet_config(fleet)) as c:
        async with c.forward_remote(0, local_port=echo.port):
            async with c.forward_local(0, remote_port=echo.port) as port:
                fleet.kill_sessions()
                started = time.monotonic()
        assert time.monotonic() - started < 2
        await _assert_refused(port)
        # The next command reconnects.
        assert (await c.run("echo back", hide=True)).stdout == "back\n"


@pytest.fixture
def thread_echo() -> Iterator[int]:
    """An echo server in a thread (a sync test blocks the test's event loop)."""

    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            while data := self.request.recv(65536):
                self.request.sendall(data)

    with socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler) as server:
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        yield server.server_address[1]
        server.shutdown()


def test_sync_forward_local_and_remote(fleet: SSHDFleet, thread_echo: int) -> None:
    with corral.Connection(fleet.hosts[0].alias, config=fleet_config(fleet)) as c:
        with c.forward_local(0, remote_port=thread_echo, remote_host="127.0.0.1") as port:
            with socket.create_connection(("localhost", port), timeout=10) as s:
                s.sendall(b"sync hello")
                assert s.recv(100) == b"sync hello"
        with c.forward_remote(0, local_port=thread_echo, local_host="127.0.0.1") as remote_port:
            script = f"exec 3<>/dev/tcp/127.0.0.1/{remote_port}; printf ping >&3; head -c 4 <&3"
            assert c.run(["bash", "-c", script], hide=True, timeout=20).stdout == "ping"
