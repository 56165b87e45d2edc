"""The blocking `Connection`: each method one call onto the portal's loop."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import IO, Any, Literal

from ..config import Config, Secret
from ..remote.connection import Connection as AsyncConnection
from ..remote.facts import Facts
from ..remote.transfer import LocalPath, ProgressCallback
from ..result import Result, RsyncResult, TransferResult
from ..runner.command import Command
from ..runner.options import RunKwargs, Unpack
from .portal import portal


class Connection:
    """An SSH connection to one host; opened on first use (blocking twin of corral.aio)."""

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
    ) -> None:
        self._async: AsyncConnection = AsyncConnection(
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
        )
        self._async._public = self

    def __getattr__(self, name: str) -> Any:
        # Every other setting (connect_kwargs, ssh_config, ...) lives on the async twin.
        if name.startswith("__") or name == "_async":
            raise AttributeError(name)
        return getattr(self._async, name)

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
        """The login user."""
        return self._async.user

    @property
    def port(self) -> int:
        """The SSH port."""
        return self._async.port

    @property
    def config(self) -> Config:
        """The Config this connection reads its settings from."""
        return self._async.config

    @property
    def gateway(self) -> Connection | str | None:
        """How the host is reached: directly (None), through a Connection, or a ProxyCommand."""
        gateway = self._async.gateway
        if isinstance(gateway, AsyncConnection):
            return Connection._facade(gateway)
        return gateway

    @classmethod
    def _facade(cls, conn: AsyncConnection) -> Connection:
        """Return the blocking twin of an async Connection (made once, then reused)."""
        if isinstance(conn._public, cls):
            return conn._public
        self = cls.__new__(cls)
        self._async = conn
        conn._public = self
        return self

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
        return portal.call(self._async.facts, refresh)

    @property
    def is_connected(self) -> bool:
        """True while an SSH connection is open."""
        return self._async.is_connected

    @property
    def cwd(self) -> str | None:
        """The working directory set by enclosing `cd()` blocks, if any."""
        return self._async.cwd

    def open(self) -> None:
        """Open the SSH connection now (commands open it on demand otherwise)."""
        return portal.call(self._async.open)

    def close(self) -> None:
        """Close the SSH connection (and any ProxyJump hops this connection opened)."""
        return portal.call(self._async.close)

    def __enter__(self) -> Connection:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def cd(self, path: str) -> AbstractContextManager[None]:
        """Run commands in `path` (nested relative paths join) while the block runs."""
        return self._async.cd(path)

    def prefix(self, command: str) -> AbstractContextManager[None]:
        """Run `command && ` before each command while the block runs."""
        return self._async.prefix(command)

    def run(self, command: Command, **kwargs: Unpack[RunKwargs]) -> Result:
        """Run a shell command on the host and return its Result."""
        return portal.call(self._async.run, command, **kwargs)

    def sudo(
        self,
        command: Command,
        user: str | None = None,
        password: str | Secret | None = None,
        **kwargs: Unpack[RunKwargs],
    ) -> Result:
        """Run a command through sudo (as root, or `user`), answering its password prompt."""
        return portal.call(self._async.sudo, command, user, password, **kwargs)

    def local(self, command: Command, **kwargs: Unpack[RunKwargs]) -> Result:
        """Run a shell command on this machine, with the same options as `run`."""
        return portal.call(self._async.local, command, **kwargs)

    def put(
        self,
        local: LocalPath | IO[bytes],
        remote: str | None = None,
        preserve_mode: bool = True,
        *,
        recursive: bool = False,
        only_changed: bool = False,
        progress: ProgressCallback | None = None,
        atomic: bool = True,
        sudo: bool = False,
        owner: str | None = None,
        mode: int | None = None,
    ) -> TransferResult:
        """Upload a file (or a tree with recursive=True), atomically by default, over SFTP."""
        return portal.call(
            self._async.put,
            local,
            remote,
            preserve_mode,
            recursive=recursive,
            only_changed=only_changed,
            progress=progress,
            atomic=atomic,
            sudo=sudo,
            owner=owner,
            mode=mode,
        )

    def get(
        self,
        remote: str,
        local: LocalPath | IO[bytes] | None = None,
        preserve_mode: bool = True,
        *,
        recursive: bool = False,
        progress: ProgressCallback | None = None,
    ) -> TransferResult:
        """Download a file (or a tree); `local` may hold {host}, {user}, {port} placeholders."""
        return portal.call(
            self._async.get, remote, local, preserve_mode, recursive=recursive, progress=progress
        )

    def put_template(
        self,
        template: LocalPath,
        remote: str,
        context: Mapping[str, Any] | None = None,
        *,
        engine: Literal["jinja2", "string"] = "jinja2",
        validate: str | None = None,
        mode: int | None = None,
        sudo: bool = False,
        owner: str | None = None,
    ) -> TransferResult:
        """Render a template here and upload it atomically, after `validate` accepts it."""
        return portal.call(
            self._async.put_template,
            template,
            remote,
            context,
            engine=engine,
            validate=validate,
            mode=mode,
            sudo=sudo,
            owner=owner,
        )

    def rsync(
        self,
        source: str | os.PathLike[str],
        target: str,
        *,
        delete: bool = False,
        exclude: Sequence[str] = (),
        rsync_opts: str | Sequence[str] = (),
        ssh_opts: str | Sequence[str] = (),
        upload: bool = True,
        archive: bool = True,
        checksum: bool = False,
        dry_run: bool = False,
        timeout: float | None = None,
    ) -> RsyncResult:
        """Sync `source` here to `target` there (upload=False: the other way) with rsync."""
        return portal.call(
            self._async.rsync,
            source,
            target,
            delete=delete,
            exclude=exclude,
            rsync_opts=rsync_opts,
            ssh_opts=ssh_opts,
            upload=upload,
            archive=archive,
            checksum=checksum,
            dry_run=dry_run,
            timeout=timeout,
        )

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

    def __repr__(self) -> str:
        return repr(self._async)


__all__ = ["Connection"]
