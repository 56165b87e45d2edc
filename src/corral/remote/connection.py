"""`Connection`: one remote host: lazy SSH connection, `run`, `local`, `cd`, `prefix`.

Settings are resolved once, at construction (Fabric's order): explicit arguments, then the
host string, then ssh_config, then corral's config.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shlex
import weakref
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from types import MappingProxyType
from typing import IO, Any, Literal

from ..config import Config, Secret
from ..errors import (
    CommandInterrupted,
    ConfigError,
    ConnectError,
    ConnectionLost,
    GatewayError,
)
from ..result import Result, RsyncResult, TransferResult
from ..runner.command import (
    RUN_ID_VAR,
    Command,
    check_env,
    command_text,
    env_prefix,
    kill_script,
)
from ..runner.dry import dry_result, dry_transfer
from ..runner.local import run_local
from ..runner.options import RunKwargs, RunOptions, Unpack, resolve_options
from ..runner.process import OutputCallback, Process, run_process
from ..runner.shaping import Shaping
from ..runner.sudo import SudoGuard, prepare_sudo
from ..transport.hostkeys import HostKeyVerifier, choose_policy
from ..transport.ssh import ConnectTarget, SSHTransport, TransportClosed
from ..transport.sshconfig import (
    DEFAULT_GLOBAL_KNOWN_HOSTS,
    DEFAULT_USER_KNOWN_HOSTS,
    HostConfig,
    lookup,
)
from . import forward, rsync, transfer
from .facts import Facts, gather_facts
from .hoststring import parse_host_string, parse_port
from .transfer import LocalPath, ProgressCallback

#: Fabric's connect_kwargs keys corral understands (paramiko names, mapped onto asyncssh).
CONNECT_KWARGS = frozenset(
    {
        "key_filename",
        "password",
        "passphrase",
        "pkey",
        "allow_agent",
        "look_for_keys",
        "banner_timeout",
        "auth_timeout",
        "timeout",
        "agent_path",
    }
)


#: Handshakes tunnelled through one bastion at once (FIELD-NOTES: 8 per destination: none lost).
BASTION_HANDSHAKES = 8

#: ProxyJump hops in use, by chain: connections naming the same bastion share its connection.
_SHARED_HOPS: weakref.WeakValueDictionary[tuple[object, ...], Connection] = (
    weakref.WeakValueDictionary()
)


def _ssh_config_paths(config: Config) -> list[str]:
    if not config.get("load_ssh_configs", True):
        return []
    runtime = config.get("ssh_config_path")
    if runtime:
        return [str(runtime)]
    return [str(p) for p in (config.get("user_ssh_path"), config.get("system_ssh_path")) if p]


def _proxy_command(template: str, host: str, port: int, user: str) -> str:
    """Expand %h, %p, %r and %% in a ProxyCommand, quoting what is substituted."""
    values = {"h": shlex.quote(host), "p": str(port), "r": shlex.quote(user), "%": "%"}
    out, i = [], 0
    while i < len(template):
        char = template[i]
        if char == "%" and i + 1 < len(template) and template[i + 1] in values:
            out.append(values[template[i + 1]])
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


class Connection(Shaping):
    """An SSH connection to one host; opened on first use, shared by every command on it."""

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
        self.config = config if config is not None else Config()
        #: The host's vars from an inventory (all < group < child group < host), read-only.
        self.host_vars: Mapping[str, Any] = MappingProxyType(dict(host_vars or {}))
        self._facts: Facts | None = None
        spec = parse_host_string(host)
        if spec.port is not None and port is not None:
            raise ConfigError(f"host {host!r}: port given both in the host string and as port=")
        if spec.user is not None and user is not None:
            raise ConfigError(f"host {host!r}: user given both in the host string and as user=")
        #: The host as given (e.g. an ssh_config alias).
        self.original_host = spec.host
        local_user = str(self.config.get("user") or "root")
        self.ssh_config: HostConfig = lookup(
            spec.host, _ssh_config_paths(self.config), local_user=local_user
        )
        #: The host name actually connected to (ssh_config HostName applied, unless
        #: `hostname` gives the address, as an inventory does).
        self.host = parse_host_string(hostname).host if hostname else self.ssh_config.hostname
        self.user: str = user or spec.user or self.ssh_config.user or local_user
        chosen_port = port if port is not None else spec.port
        if chosen_port is None:
            chosen_port = self.ssh_config.port or self.config.get("port") or 22
        self.port = parse_port(chosen_port, f"host {host!r}")
        self.forward_agent: bool = bool(
            forward_agent
            if forward_agent is not None
            else (
                self.ssh_config.forward_agent
                if self.ssh_config.forward_agent is not None
                else self.config.get("forward_agent")
            )
        )
        self.connect_timeout = float(
            connect_timeout
            if connect_timeout is not None
            else self.ssh_config.connect_timeout or self.config.get("timeouts.connect") or 10
        )
        kwargs = dict(
            connect_kwargs if connect_kwargs is not None else self.config.get("connect_kwargs", {})
        )
        unknown = set(kwargs) - CONNECT_KWARGS
        if unknown:
            raise ConfigError(
                f"{self.original_host}: unknown connect_kwargs {', '.join(sorted(unknown))}; "
                f"corral understands {', '.join(sorted(CONNECT_KWARGS))}"
            )
        for secret in ("password", "passphrase"):
            if kwargs.get(secret) is not None:
                kwargs[secret] = Secret(kwargs[secret])
        self.connect_kwargs: dict[str, Any] = kwargs
        self.inline_ssh_env: bool = bool(
            inline_ssh_env if inline_ssh_env is not None else self.config.get("inline_ssh_env")
        )
        if gateway is None:
            gateway = self.config.get("gateway")
        if gateway == "none":  # OpenSSH's "ProxyJump none": connect directly
            gateway = None
        elif gateway is None and self.ssh_config.proxy_jump:
            gateway = self._jump_chain(self.ssh_config.proxy_jump)
        elif gateway is None and self.ssh_config.proxy_command:
            gateway = self.ssh_config.proxy_command
        #: How the host is reached: directly (None), through a Connection, or a ProxyCommand.
        self.gateway: Connection | str | None = gateway
        self._shared = False  # a ProxyJump hop shared by every connection naming it
        self._tunnel_users = 0  # connections currently tunnelling through this one
        self._uses_gateway = False
        self._handshakes: asyncio.Semaphore | None = None
        self._commands: set[asyncio.Task[Any]] = set()  # commands in flight (for _interrupt)
        self._interrupted = False
        self._transport: SSHTransport | None = None
        self._opening: asyncio.Lock | None = None
        self._init_shaping()
        #: The object handed to users in Result.connection (the sync twin sets itself here).
        self._public: Any = self

    # ------------------------------------------------------------------ settings

    def _jump_chain(self, proxy_jump: str) -> Connection:
        """Return the gateway Connections for a ProxyJump list (last hop; first outermost).

        Hops are shared: every connection whose ProxyJump names the same chain (with the
        same ssh_config and credentials) tunnels through the same hop connections.
        """
        previous: Connection | None = None
        key: tuple[object, ...] = (
            tuple(_ssh_config_paths(self.config)),
            repr(sorted((k, repr(v)) for k, v in self.connect_kwargs.items())),
        )
        for hop in (part.strip() for part in proxy_jump.split(",")):
            if hop.startswith("ssh://"):
                hop = hop[len("ssh://") :]
            key = (*key, hop)
            shared = _SHARED_HOPS.get(key)
            if shared is None:
                hop_config = self.config.clone()
                hop_config["gateway"] = "none"  # a hop's own ProxyJump is not followed
                shared = Connection(hop, config=hop_config, gateway=previous)
                shared._shared = True
                _SHARED_HOPS[key] = shared
            previous = shared
        assert previous is not None
        return previous

    async def _open_gateway(self, gateway: Connection) -> SSHTransport:
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
            gateway._tunnel_users += 1
        return tunnel

    def _handshake_slots(self) -> asyncio.Semaphore:
        """Admission for handshakes tunnelled through this connection (as a bastion)."""
        if self._handshakes is None:
            self._handshakes = asyncio.Semaphore(BASTION_HANDSHAKES)
        return self._handshakes

    async def _release_gateway(self) -> None:
        gateway = self.gateway
        if not self._uses_gateway or not isinstance(gateway, Connection):
            return
        self._uses_gateway = False
        gateway._tunnel_users -= 1
        if gateway._shared and gateway._tunnel_users <= 0:  # the last user of a shared hop
            await gateway.close()

    def _target(self) -> ConnectTarget:
        settings = self.ssh_config
        kwargs = self.connect_kwargs
        user_files = settings.user_known_hosts
        if user_files is None:
            user_files = tuple(os.path.expanduser(p) for p in DEFAULT_USER_KNOWN_HOSTS)
        global_files = settings.global_known_hosts
        if global_files is None:
            global_files = DEFAULT_GLOBAL_KNOWN_HOSTS
        label = self.original_host
        verifier = HostKeyVerifier(
            label=label,
            host=settings.host_key_alias or self.host,
            port=self.port,
            policy=choose_policy(
                self.config.get("host_key_policy"), settings.strict_host_key_checking
            ),
            files=tuple(user_files) + tuple(global_files),
            write_file=user_files[0]
            if user_files
            else os.path.expanduser(DEFAULT_USER_KNOWN_HOSTS[0]),
            hash_new=settings.hash_known_hosts,
        )
        key_files = kwargs.get("key_filename")
        if isinstance(key_files, str | os.PathLike):
            key_files = [key_files]
        client_keys: list[str] | None
        if key_files:
            client_keys = [os.path.expanduser(str(p)) for p in key_files]
        elif settings.identity_files:
            client_keys = [p for p in settings.identity_files if os.path.isfile(p)]
        elif kwargs.get("look_for_keys") is False:
            client_keys = []
        else:
            client_keys = None
        extra: dict[str, Any] = {}
        if kwargs.get("pkey") is not None:
            extra["client_keys"] = [kwargs["pkey"], *(client_keys or [])]
        use_agent = kwargs.get("allow_agent", True) is not False and not settings.identities_only
        timeout = float(kwargs.get("timeout") or self.connect_timeout)
        if kwargs.get("banner_timeout"):
            timeout = max(timeout, float(kwargs["banner_timeout"]))
        keepalive = self.config.get("keepalive")
        proxy = None
        if isinstance(self.gateway, str):
            proxy = _proxy_command(self.gateway, self.host, self.port, self.user)
        return ConnectTarget(
            label=label,
            hostname=self.host,
            port=self.port,
            user=self.user,
            verifier=verifier,
            client_keys=client_keys,
            password=kwargs.get("password"),
            passphrase=kwargs.get("passphrase"),
            agent_path=kwargs.get("agent_path") or settings.identity_agent,
            use_agent=use_agent,
            forward_agent=self.forward_agent,
            connect_timeout=timeout,
            login_timeout=kwargs.get("auth_timeout"),
            keepalive_interval=float(
                settings.server_alive_interval
                if settings.server_alive_interval is not None
                else (keepalive.get("interval") if keepalive else 15)
            ),
            keepalive_count_max=int(
                settings.server_alive_count_max
                if settings.server_alive_count_max is not None
                else (keepalive.get("count_max") if keepalive else 3)
            ),
            proxy_command=proxy,
            max_sessions=int(self.config.get("max_sessions") or 10),
            extra=extra,
        )

    # ------------------------------------------------------------------ lifecycle

    @property
    def is_connected(self) -> bool:
        """True while an SSH connection is open."""
        return self._transport is not None and not self._transport.is_closed

    async def open(self) -> None:
        """Open the SSH connection now (commands open it on demand otherwise)."""
        await self._ensure_open()

    async def _ensure_open(self) -> SSHTransport:
        if self._opening is None:
            self._opening = asyncio.Lock()
        async with self._opening:  # many concurrent commands: one connection attempt
            transport = self._transport
            if transport is not None and not transport.is_closed:
                return transport
            if transport is not None:  # dropped since last use: reconnect (nothing was running)
                transport.close()
                self._transport = None
            gateway = self.gateway if isinstance(self.gateway, Connection) else None
            if gateway is None:
                self._transport = await SSHTransport.connect(self._target())
                return self._transport
            tunnel = await self._open_gateway(gateway)
            async with gateway._handshake_slots():  # admitted at a bounded rate per bastion
                self._transport = await SSHTransport.connect(
                    self._target(), tunnel=tunnel, via=gateway.original_host
                )
            return self._transport

    async def close(self) -> None:
        """Close the SSH connection (and any ProxyJump hops this connection opened)."""
        transport, self._transport = self._transport, None
        if transport is not None:
            transport.close()
            await transport.wait_closed()
        await self._release_gateway()

    async def __aenter__(self) -> Connection:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # ------------------------------------------------------------------ commands

    async def run(self, command: Command, **kwargs: Unpack[RunKwargs]) -> Result:
        """Run a shell command on the host and return its Result."""
        options = resolve_options(self.config, kwargs)
        shaped = self._shape(command)
        check_env(options.env)
        run_id = secrets.token_hex(8)
        marker = {RUN_ID_VAR: run_id}
        if self.inline_ssh_env:
            wire, ssh_env = env_prefix({**marker, **options.env}) + shaped, None
        else:
            wire, ssh_env = env_prefix(marker) + shaped, options.env
        return await self._remote(wire, shaped, options, ssh_env, run_id)

    async def sudo(
        self,
        command: Command,
        user: str | None = None,
        password: str | Secret | None = None,
        **kwargs: Unpack[RunKwargs],
    ) -> Result:
        """Run a command through sudo (as root, or `user`), answering its password prompt.

        The whole command, with cd(), prefix() and env, runs under sudo. The password comes
        from the argument or config `sudo.password`; a rejected or missing password raises
        AuthFailure at once, naming the host and user.
        """
        options = resolve_options(self.config, kwargs)
        check_env(options.env)
        shaped = self._shape(command)
        run_id = secrets.token_hex(8)
        call = prepare_sudo(
            shaped,
            {RUN_ID_VAR: run_id, **options.env},
            options,
            self.config,
            user=user,
            password=password,
            who=f"{self.user}@{self.original_host}",
        )
        return await self._remote(call.wire, call.display, options, None, run_id, call.guard)

    async def _remote(
        self,
        wire: str,
        display: str,
        options: RunOptions,
        ssh_env: Mapping[str, str] | None,
        run_id: str,
        guard: SudoGuard | None = None,
    ) -> Result:
        async def on_signal(name: str) -> None:
            # Signal the command's processes by their marker, from a second channel: as the
            # login user, or through sudo when the command runs under sudo.
            script = kill_script(run_id, name)
            if guard is None:
                await self.run(script, hide=True, warn=True, echo=False, in_stream=False)
            else:
                await self.sudo(
                    script,
                    password=guard.password,
                    hide=True,
                    warn=True,
                    echo=False,
                    in_stream=False,
                )

        async def spawn(on_output: OutputCallback) -> Process:
            for attempt in (1, 2):
                transport = await self._ensure_open()
                try:
                    return await transport.start_process(
                        wire, on_output, pty=options.pty, env=ssh_env, on_signal=on_signal
                    )
                except TransportClosed as exc:
                    # The channel never opened, so nothing ran: reconnect and try once more.
                    if attempt == 2:
                        raise ConnectionLost(
                            self.original_host, f"connection closed: {exc}"
                        ) from None
            raise AssertionError("unreachable")

        if self.config.get("run.dry"):  # --dry: show the command, do not connect or run it
            return dry_result(display, host=self.original_host, connection=self._public)
        if self._interrupted:
            raise CommandInterrupted(self.original_host, f"not started: {display!r} (interrupted)")
        task = asyncio.current_task()
        if task is not None:
            self._commands.add(task)
        try:
            return await run_process(
                spawn,
                options,
                command=wire,
                display=display,
                host=self.original_host,
                connection=self._public,
                guard=guard,
            )
        except ConnectionLost as exc:
            gateway = self.gateway
            if isinstance(gateway, Connection) and not gateway.is_connected:
                exc.reason = f"bastion {gateway.original_host} lost: {exc.reason}"
                exc.args = (f"{exc.host}: {exc.reason}",)
            raise
        finally:
            if task is not None:
                self._commands.discard(task)

    def _interrupt(self) -> None:
        """Stop this connection's running commands (they are terminated) and refuse new ones.

        For Ctrl-C while blocking code (a sync task in a worker thread) drives the connection.
        """
        self._interrupted = True
        for task in list(self._commands):
            task.cancel()

    async def facts(self, refresh: bool = False) -> Facts:
        """Return what the host is (OS, kernel, CPUs, memory, disks, addresses, ...).

        Gathered once, in one round trip (a POSIX sh probe: no Python needed on the host),
        then cached for the connection's life; `refresh=True` reads them again.
        """
        if self._facts is None or refresh:
            self._facts = await gather_facts(self)
        return self._facts

    async def gather_facts(self, refresh: bool = False) -> Facts:
        """Gather the host's facts (cached; `refresh=True` reads them again) and return them."""
        return await self.facts(refresh)

    async def local(self, command: Command, **kwargs: Unpack[RunKwargs]) -> Result:
        """Run a shell command on this machine, with the same options as `run`."""
        options = resolve_options(self.config, kwargs)
        dry = bool(self.config.get("run.dry"))
        return await run_local(command_text(command), options, dry=dry, connection=self._public)

    async def put(
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
        if self.config.get("run.dry"):
            return dry_transfer(
                "put", local, remote, host=self.original_host, connection=self._public
            )
        return await transfer.put(
            self,
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

    async def get(
        self,
        remote: str,
        local: LocalPath | IO[bytes] | None = None,
        preserve_mode: bool = True,
        *,
        recursive: bool = False,
        progress: ProgressCallback | None = None,
    ) -> TransferResult:
        """Download a file (or a tree); `local` may hold {host}, {user}, {port} placeholders."""
        if self.config.get("run.dry"):
            return dry_transfer(
                "get", local, remote, host=self.original_host, connection=self._public
            )
        return await transfer.get(
            self, remote, local, preserve_mode, recursive=recursive, progress=progress
        )

    async def put_template(
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
        """Render a template here and upload it atomically, after `validate` accepts it.

        The template sees the host's vars and (once gathered) `facts`; `context` wins.
        """
        facts = {"facts": self._facts} if self._facts is not None else {}
        context = {**self.host_vars, **facts, **(context or {})}
        if self.config.get("run.dry"):
            return dry_transfer(
                "put",
                f"{template} (rendered)",
                remote,
                host=self.original_host,
                connection=self._public,
            )
        return await transfer.put_template(
            self,
            template,
            remote,
            context,
            engine=engine,
            validate=validate,
            mode=mode,
            sudo=sudo,
            owner=owner,
        )

    async def rsync(
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
        """Sync `source` here to `target` there (upload=False: the other way) with rsync.

        rsync runs locally over OpenSSH with this connection's settings (user, port, keys,
        known_hosts, gateways) and reports what changed.
        """
        return await rsync.rsync(
            self,
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
    ) -> AbstractAsyncContextManager[int]:
        """Listen on local_host:local_port here and relay to remote_host:remote_port there.

        The context manager yields the bound local port (0 picks a free one).
        """
        return forward.forward_local(self, local_port, remote_port, remote_host, local_host)

    def forward_remote(
        self,
        remote_port: int,
        local_port: int | None = None,
        remote_host: str = "127.0.0.1",
        local_host: str = "localhost",
    ) -> AbstractAsyncContextManager[int]:
        """Listen on remote_host:remote_port there and relay to local_host:local_port here.

        The context manager yields the bound remote port (0 lets the server pick one).
        """
        return forward.forward_remote(self, remote_port, local_port, remote_host, local_host)

    def __repr__(self) -> str:
        gateway = f" via {self.gateway!r}" if isinstance(self.gateway, Connection) else ""
        return f"<Connection {self.user}@{self.original_host}:{self.port}{gateway}>"
