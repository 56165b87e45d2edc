"""The blocking `Connection`: each method one call onto the portal's loop."""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from typing import IO, Any, Literal, overload

from ..config import Config, Secret
from ..events import EventBus
from ..remote.connection import Connection as AsyncConnection
from ..remote.facts import Facts
from ..remote.rsync import RsyncKwargs
from ..remote.transfer import GetKwargs, LocalPath, PutKwargs, TemplateKwargs
from ..result import Result, RsyncResult, TransferResult
from ..runner.command import Command
from ..runner.options import RunKwargs, Unpack
from ..runner.output import OutputRoute
from ..transport.sshconfig import HostConfig
from ..transport.target import ConnectKwargs
from .facade import Promise, Runner, call, detach_locally, how_started, public, twin_of
from .portal import portal
from .sftp_client import SFTPClient


class Connection(Runner, core=AsyncConnection):
    """An SSH connection to one host; opened on first use (blocking twin of corral.aio)."""

    _async: AsyncConnection

    def __init__(
        self,
        host: str,
        user: str | None = None,
        port: int | None = None,
        config: Config | None = None,
        gateway: Connection | str | None = None,
        forward_agent: bool | None = None,
        connect_timeout: float | None = None,
        connect_kwargs: Mapping[str, Any] | None = None,
        inline_ssh_env: bool | None = None,
        *,
        hostname: str | None = None,
        host_vars: Mapping[str, Any] | None = None,
        persistent_session: bool | None = None,
    ) -> None:
        self._adopt(
            AsyncConnection(
                host,
                user=user,
                port=port,
                config=config,
                gateway=gateway._async if isinstance(gateway, Connection) else gateway,
                forward_agent=forward_agent,
                connect_timeout=connect_timeout,
                connect_kwargs=connect_kwargs,
                inline_ssh_env=inline_ssh_env,
                hostname=hostname,
                host_vars=host_vars,
                persistent_session=persistent_session,
            )
        )

    @property
    def host(self) -> str:
        """The host name actually connected to (ssh_config HostName applied)."""
        return self._async.host

    @property
    def original_host(self) -> str:
        """The host as given (e.g. an ssh_config alias)."""
        return self._async.original_host

    @property
    def user(self) -> str:
        """The login user (settable, as in Fabric: see `Connection` on changing settings)."""
        return self._async.user

    @user.setter
    def user(self, value: str) -> None:
        self._async.user = value

    @property
    def port(self) -> int:
        """The SSH port (settable)."""
        return self._async.port

    @port.setter
    def port(self, value: int) -> None:
        self._async.port = value

    @property
    def gateway(self) -> Connection | str | None:
        """How the host is reached: directly (None), through a Connection, or a ProxyCommand."""
        gateway: Connection | str | None = twin_of(self._async.gateway)
        return gateway

    @property
    def ssh_config(self) -> HostConfig:
        """What ssh_config says about the host."""
        return self._async.ssh_config

    @property
    def forward_agent(self) -> bool:
        """Whether the local ssh-agent is forwarded to the host (settable)."""
        return self._async.forward_agent

    @forward_agent.setter
    def forward_agent(self, value: bool) -> None:
        self._async.forward_agent = value

    @property
    def connect_timeout(self) -> float:
        """Seconds allowed for connecting (settable)."""
        return self._async.connect_timeout

    @connect_timeout.setter
    def connect_timeout(self, value: float) -> None:
        self._async.connect_timeout = value

    @property
    def connect_kwargs(self) -> ConnectKwargs:
        """Fabric's connect_kwargs (key_filename, password, ...), secrets masked in reprs;
        settable, and changed in place too (`c.connect_kwargs.password = pw`)."""
        return self._async.connect_kwargs

    @connect_kwargs.setter
    def connect_kwargs(self, value: Mapping[str, Any]) -> None:
        self._async.connect_kwargs = ConnectKwargs(self.original_host, value)

    @property
    def inline_ssh_env(self) -> bool:
        """Whether env values are exported in the command text (else sent as SSH env)."""
        return self._async.inline_ssh_env

    @inline_ssh_env.setter
    def inline_ssh_env(self, value: bool) -> None:
        self._async.inline_ssh_env = value

    @property
    def client(self) -> Any:
        """Not available: paramiko's SSHClient in Fabric; the error says what to use."""
        return self._async.client

    @property
    def transport(self) -> Any:
        """Not available: paramiko's Transport in Fabric; the error says what to use."""
        return self._async.transport

    @property
    def persistent_session(self) -> bool:
        """Whether commands run in one long-lived shell on the connection (not a channel each)."""
        return self._async.persistent_session

    @property
    def output_route(self) -> OutputRoute | None:
        """Where live output goes when a call names no stream (a group's `[host] ` lines)."""
        return self._async.output_route

    @property
    def interrupted_result(self) -> Result | None:
        """What the latest command stopped by an interrupt (Ctrl-C) had printed."""
        return public(self._async.interrupted_result)

    @property
    def events(self) -> EventBus | None:
        """The event stream of the run this connection works for, if it records one."""
        return self._async.events

    @property
    def run_id(self) -> str | None:
        """The id of the run this connection works for, if it records one."""
        return self._async.run_id

    @property
    def host_vars(self) -> Mapping[str, Any]:
        """The host's vars from an inventory (all < group < child group < host), read-only."""
        return self._async.host_vars

    @property
    def facts(self) -> Facts:
        """What the host is (OS, kernel, CPUs, memory, ...): gathered on first use, cached."""
        return self.gather_facts()

    def gather_facts(self, refresh: bool = False) -> Facts:
        """Gather the host's facts (cached; `refresh=True` reads them again) and return them."""
        return call(self._async.facts, refresh)

    def use_facts(self, facts: Facts | None) -> None:
        """Take facts gathered elsewhere (an inventory selection) instead of gathering again."""
        self._async.use_facts(facts)

    @property
    def is_connected(self) -> bool:
        """True while an SSH connection is open."""
        return self._async.is_connected

    def open(self) -> None:
        """Open the SSH connection now (commands open it on demand otherwise)."""
        return call(self._async.open)

    def close(self) -> None:
        """Close the SSH connection (and any ProxyJump hops this connection opened)."""
        return call(self._async.close)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def interrupt(self) -> None:
        """Stop this connection's running commands and refuse new ones (from any thread)."""
        portal.loop.call_soon_threadsafe(self._async.interrupt)

    def wait_commands(self, timeout: float | None = None) -> None:
        """Wait until none of this connection's commands is running (at most `timeout` s)."""
        return call(self._async.wait_commands, timeout)

    def probe(
        self,
        command: Command,
        *,
        sudo: bool = False,
        user: str | None = None,
        password: str | Secret | None = None,
        **kwargs: Unpack[RunKwargs],
    ) -> Result:
        """Run a read-only command that inspects the host, also under --check."""
        return call(self._async.probe, command, sudo=sudo, user=user, password=password, **kwargs)

    # asynchronous=True: a Promise; disown=True: None (as for run)
    @overload
    def local(
        self, command: Command, *, asynchronous: Literal[True], **kwargs: Unpack[RunKwargs]
    ) -> Promise: ...

    @overload
    def local(
        self, command: Command, *, disown: Literal[True], **kwargs: Unpack[RunKwargs]
    ) -> None: ...

    @overload
    def local(self, command: Command, **kwargs: Unpack[RunKwargs]) -> Result: ...

    def local(self, command: Command, **kwargs: Any) -> Any:
        """Run a shell command on this machine, with the same options as `run`."""
        asynchronous, disown = how_started(self.config, kwargs)
        if disown:
            detach_locally(command, self.config, kwargs)
            return None
        if asynchronous:
            return Promise(portal.submit(self._async.local, command, **kwargs), str(command))
        return call(self._async.local, command, **kwargs)

    def shell(self, **kwargs: Unpack[RunKwargs]) -> Result:
        """Run an interactive login shell on the host, as `ssh HOST` does (a pty, your
        terminal as input); return its Result when it exits (see corral.aio's)."""
        return call(self._async.shell, **kwargs)

    def sftp(self) -> SFTPClient:
        """Return an SFTP client on this connection (made once, closed with it), with the
        method names fabfiles call on Fabric's (paramiko's): listdir, stat, open, put, ..."""
        return SFTPClient(call(self._async.sftp))

    def put(
        self,
        local: LocalPath | IO[bytes],
        remote: str | None = None,
        preserve_mode: bool = True,
        **kwargs: Unpack[PutKwargs],
    ) -> TransferResult:
        """Upload a file (or a tree with recursive=True), atomically by default, over SFTP."""
        return call(self._async.put, local, remote, preserve_mode, **kwargs)

    def get(
        self,
        remote: str,
        local: LocalPath | IO[bytes] | None = None,
        preserve_mode: bool = True,
        **kwargs: Unpack[GetKwargs],
    ) -> TransferResult:
        """Download a file (or a tree); `local` may hold {host}, {user}, {port} placeholders."""
        return call(self._async.get, remote, local, preserve_mode, **kwargs)

    def put_template(
        self,
        template: LocalPath,
        remote: str,
        context: Mapping[str, Any] | None = None,
        **kwargs: Unpack[TemplateKwargs],
    ) -> TransferResult:
        """Render a template here and upload it atomically, after `validate` accepts it."""
        return call(self._async.put_template, template, remote, context, **kwargs)

    def rsync(
        self, source: str | os.PathLike[str], target: str, **kwargs: Unpack[RsyncKwargs]
    ) -> RsyncResult:
        """Sync `source` here to `target` there (upload=False: the other way) with rsync."""
        return call(self._async.rsync, source, target, **kwargs)

    def forward_local(
        self,
        local_port: int,
        remote_port: int | None = None,
        remote_host: str = "localhost",
        local_host: str = "localhost",
    ) -> AbstractContextManager[int]:
        """Listen on local_host:local_port here and relay to remote_host:remote_port there."""
        return portal.wrap_async_context_manager(
            self._async.forward_local(local_port, remote_port, remote_host, local_host)
        )

    def forward_remote(
        self,
        remote_port: int,
        local_port: int | None = None,
        remote_host: str = "127.0.0.1",
        local_host: str = "localhost",
    ) -> AbstractContextManager[int]:
        """Listen on remote_host:remote_port there and relay to local_host:local_port here."""
        return portal.wrap_async_context_manager(
            self._async.forward_remote(remote_port, local_port, remote_host, local_host)
        )

    def _identity(self) -> tuple[str, str, int]:
        return (self.host, self.user, self.port)

    def __eq__(self, other: object) -> bool:
        """Connections are equal when they reach the same host, user and port (Fabric's)."""
        if not isinstance(other, Connection):
            return NotImplemented
        return self._identity() == other._identity()

    def __lt__(self, other: Connection) -> bool:
        return self._identity() < other._identity()

    def __hash__(self) -> int:
        return hash(self._identity())

    def __repr__(self) -> str:
        return repr(self._async)


__all__ = ["Connection"]
