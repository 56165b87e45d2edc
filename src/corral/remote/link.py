"""`Link`: one host's SSH connection: its settings, opened on first use, shared by every
command and transfer on it, reopened when it dropped while idle, reached through gateways.

Settings are resolved at construction (`transport.target`: explicit arguments, then the host
string, then ssh_config, then config); `Connection` adds what runs over the link.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Any, TypeVar

from ..config import Config
from ..errors import ConfigError, ConnectError, ConnectionLost, GatewayError
from ..transport.hoststring import parse_host_string, parse_port
from ..transport.ssh import SSHTransport, TransportClosed
from ..transport.target import (
    ConnectKwargs,
    ConnectTarget,
    HostSettings,
    connect_target,
    resolve_host,
    ssh_config_paths,
)
from .gateway import HopPool, shared_hops
from .parking import Parking, connection_key

T = TypeVar("T")

#: Gateways in front of one host, at most (a longer chain is a loop or a mistake).
MAX_HOPS = 16
#: Settings code may change (`c.user = "deploy"`, as in Fabric): checked, and read when the
#: connection is next opened; changing those marked True reopens an open connection.
SETTABLE = {
    "user": True,
    "port": True,
    "connect_kwargs": True,
    "forward_agent": True,
    "connect_timeout": False,
    "inline_ssh_env": False,
}


class Link:
    """One host's SSH connection: opened on first use, shared, reopened after an idle drop."""

    _hops: HopPool = shared_hops
    #: Where closed connections wait for the next Connection with the same settings: set
    #: in the broker's process only (elsewhere closing a Connection closes its connection).
    _parking: Parking | None = None

    def __init__(
        self,
        host: str,
        user: str | None = None,
        port: int | None = None,
        config: Config | None = None,
        gateway: Link | str | None = None,
        forward_agent: bool | None = None,
        connect_timeout: float | None = None,
        connect_kwargs: Mapping[str, Any] | None = None,
        inline_ssh_env: bool | None = None,
        *,
        hostname: str | None = None,
        host_vars: Mapping[str, Any] | None = None,
        persistent_session: bool | None = None,
    ) -> None:
        self.config = config if config is not None else Config()
        if gateway is None and isinstance(self.config.get("gateway"), Link):
            gateway = self.config.get("gateway")
        through = gateway if isinstance(gateway, Link) else None
        settings = resolve_host(
            parse_host_string(host),
            self.config,
            user=user,
            port=port,
            forward_agent=forward_agent,
            connect_timeout=connect_timeout,
            connect_kwargs=connect_kwargs,
            inline_ssh_env=inline_ssh_env,
            gateway=gateway if isinstance(gateway, str) else None,
            has_gateway_connection=through is not None,
            hostname=hostname,
        )
        #: The host's vars from an inventory (all < group < child group < host), read-only.
        self.host_vars: Mapping[str, Any] = MappingProxyType(dict(host_vars or {}))
        #: The host as given (e.g. an ssh_config alias).
        self.original_host = settings.original_host
        #: What ssh_config says about the host.
        self.ssh_config = settings.ssh_config
        #: The host name actually connected to (ssh_config HostName applied).
        self.host = settings.host
        self.user = settings.user
        self.port = settings.port
        self.forward_agent = settings.forward_agent
        self.connect_timeout = settings.connect_timeout
        self.connect_kwargs: ConnectKwargs = ConnectKwargs(
            self.original_host,
            settings.connect_kwargs,
            lambda: self._reconnect_for("connect_kwargs"),
        )
        self.inline_ssh_env = settings.inline_ssh_env
        #: Run commands in one long-lived shell on the connection, not a channel each.
        self.persistent_session = bool(
            persistent_session
            if persistent_session is not None
            else self.config.get("persistent_session", False)
        )
        #: How the host is reached: directly (None), through a Connection, or a ProxyCommand.
        self.gateway: Link | str | None = through or settings.proxy_command
        if settings.proxy_jump:
            self.gateway = self._jump_chain(settings.proxy_jump)
        self._uses_gateway = False
        self._commands: set[asyncio.Task[Any]] = set()  # commands in flight (for interrupt)
        self._interrupted = False
        self._transport: SSHTransport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None  # the loop the connection lives on
        self._pid = os.getpid()
        self._opening: asyncio.Lock | None = None
        self._stale = False  # a setting changed while connected: reopen before the next use

    # ------------------------------------------------------------------ settings

    def __setattr__(self, name: str, value: Any) -> None:
        if name in SETTABLE and "_stale" in self.__dict__:  # a change after __init__
            value = self._checked(name, value)
            if SETTABLE[name]:
                self._reconnect_for(name)
        object.__setattr__(self, name, value)

    def _checked(self, name: str, value: Any) -> Any:
        """Return a setting's new value, checked (ConfigError naming the host otherwise)."""
        label = self.original_host
        if name == "user":
            if not isinstance(value, str) or not value:
                raise ConfigError(f"{label}: user must be a non-empty string, not {value!r}")
            return value
        if name == "port":
            return parse_port(value, f"{label}: port")
        if name == "connect_kwargs":
            if value is None:
                value = {}
            if not isinstance(value, Mapping):
                raise ConfigError(f"{label}: connect_kwargs must be a mapping, not {value!r}")
            return ConnectKwargs(label, value, lambda: self._reconnect_for("connect_kwargs"))
        if name == "connect_timeout":
            if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
                raise ConfigError(f"{label}: connect_timeout must be a positive number of seconds")
            return float(value)
        return bool(value)

    def _reconnect_for(self, name: str) -> None:
        """A connection setting is about to change: an open connection is reopened before
        its next command; refused while commands run on it."""
        if self._commands:  # running, or waiting for the connection to open
            raise ConfigError(
                f"{self.original_host}: cannot change {name} while commands run on the "
                "connection; change it between commands"
            )
        transport = self.__dict__.get("_transport")
        if transport is not None and not transport.is_closed:
            self._stale = True

    def _jump_chain(self, hops: tuple[str, ...]) -> Link:
        """Return the gateway connections for a ProxyJump list (last hop; first outermost)."""
        key = (
            tuple(ssh_config_paths(self.config)),
            repr(sorted((k, repr(v)) for k, v in self.connect_kwargs.items())),
        )

        def make(name: str, previous: Link | None) -> Link:
            hop_config = self.config.clone()
            hop_config["gateway"] = "none"  # a hop's own ProxyJump is not followed
            return type(self)(name, config=hop_config, gateway=previous)

        return self._hops.chain(hops, key, make)

    def _target(self) -> ConnectTarget:
        """Return where and how to connect, from the settings as they are now."""
        settings = HostSettings(
            original_host=self.original_host,
            host=self.host,
            user=self.user,
            port=self.port,
            ssh_config=self.ssh_config,
            forward_agent=self.forward_agent,
            connect_timeout=self.connect_timeout,
            connect_kwargs=self.connect_kwargs,
            inline_ssh_env=self.inline_ssh_env,
            proxy_command=self.gateway if isinstance(self.gateway, str) else None,
        )
        return connect_target(settings, self.config)

    def _chain(self) -> list[ConnectTarget]:
        """Return the ConnectTarget of every hop to this host, the first hop first."""
        chain: list[ConnectTarget] = []
        seen: set[int] = set()
        hop: Link | str | None = self
        while isinstance(hop, Link):
            if id(hop) in seen or len(chain) >= MAX_HOPS:
                raise ConfigError(
                    f"{self.original_host}: gateway chain loops or exceeds {MAX_HOPS} hops"
                )
            seen.add(id(hop))
            chain.append(hop._target())
            hop = hop.gateway
        return chain[::-1]

    # ------------------------------------------------------------------ lifecycle

    @property
    def is_connected(self) -> bool:
        """True while an SSH connection is open."""
        return self._transport is not None and not self._transport.is_closed

    def _owns_loop(self) -> bool:
        """True when the connection was opened on the running loop of this process."""
        return self._pid == os.getpid() and self._loop is asyncio.get_running_loop()

    def _bind_loop(self) -> None:
        """Start over on a new event loop (e.g. in a forked child) without touching the old one.

        The old connection belongs to another loop (or, after a fork, to the parent process):
        it is left alone, never closed from here, and a fresh one opens on first use.
        """
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        self._loop, self._pid = loop, os.getpid()
        self._transport = None
        self._opening = asyncio.Lock()
        self._commands = set()
        self._uses_gateway = False

    async def open(self) -> None:
        """Open the SSH connection now (commands open it on demand otherwise)."""
        await self._ensure_open()

    async def _ensure_open(self) -> SSHTransport:
        self._bind_loop()
        assert self._opening is not None
        async with self._opening:  # many concurrent commands: one connection attempt
            transport = self._transport
            if self._stale:  # user, port or keys changed since it opened: open anew
                self._stale = False
                if transport is not None:
                    transport.close()
                    await transport.wait_closed()
                    self._transport = transport = None
            if transport is not None and not transport.is_closed:
                return transport
            if transport is not None:  # dropped since last use: reconnect (nothing was running)
                transport.close()
                self._transport = None
            gateway = self.gateway if isinstance(self.gateway, Link) else None
            if gateway is None:
                target = self._target()
                parking = self._parking
                parked = parking.take(connection_key(target)) if parking is not None else None
                self._transport = parked or await SSHTransport.connect(target)
                return self._transport
            tunnel = await self._open_gateway(gateway)
            async with self._hops.admit(gateway):  # admitted at a bounded rate per bastion
                self._transport = await SSHTransport.connect(
                    self._target(), tunnel=tunnel, via=gateway.original_host
                )
            return self._transport

    async def _open_gateway(self, gateway: Link) -> SSHTransport:
        """Open (or reuse) the bastion's connection; report its failure as the bastion's."""
        try:
            tunnel = await gateway._ensure_open()
        except ConnectError as exc:
            raise GatewayError(
                self.original_host,
                f"bastion {gateway.original_host} unreachable: {exc.reason}",
                gateway=gateway.original_host,
                retryable=exc.retryable,
            ) from exc
        if not self._uses_gateway:
            self._uses_gateway = True
            self._hops.use(gateway)
        return tunnel

    async def _with_transport(self, use: Callable[[SSHTransport], Awaitable[T]]) -> T:
        """Run `use` on the open connection; when it had dropped unnoticed (nothing started
        on it), reconnect and try once more."""
        for attempt in (1, 2):
            transport = await self._ensure_open()
            try:
                return await use(transport)
            except TransportClosed as exc:
                if attempt == 2:
                    raise ConnectionLost(self.original_host, f"connection closed: {exc}") from exc
        raise AssertionError("unreachable")

    async def close(self) -> None:
        """Close the SSH connection (and any ProxyJump hops this connection opened).

        In the broker's process a direct connection is parked instead, for the next
        Connection with the same settings.
        """
        transport, self._transport = self._transport, None
        if transport is not None and self._owns_loop():
            if self._parking is not None and self._parkable(transport):
                self._parking.park(connection_key(transport.target), transport)
            else:
                transport.close()
                await transport.wait_closed()
        # else it belongs to another loop (closed, or the parent's after a fork): left alone
        if self._uses_gateway and isinstance(self.gateway, Link):
            self._uses_gateway = False
            await self._hops.release(self.gateway)

    def _parkable(self, transport: SSHTransport) -> bool:
        """True for an open direct connection with nothing running on it."""
        return (
            not transport.is_closed
            and self.gateway is None
            and not any(not task.done() for task in self._commands)
        )

    async def __aenter__(self: T) -> T:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        gateway = f" via {self.gateway!r}" if isinstance(self.gateway, Link) else ""
        return f"<{type(self).__name__} {self.user}@{self.original_host}:{self.port}{gateway}>"
