"""`Connection`: one remote host: `run`, `sudo`, `local`, transfers, rsync and forwards over
its `Link` (the lazily opened SSH connection).

Helpers get narrow doors: transfers an `Endpoint`, rsync the chain of `ConnectTarget`s,
forwards a transport opener.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import IO, Any

from ..config import Secret
from ..config.secret import secret_registry
from ..errors import CommandInterrupted, ConfigError, ConnectionLost, Failure, UnsupportedError
from ..events import EventBus, OperationResult
from ..result import Result, RsyncResult, TransferResult
from ..runner.command import (
    RUN_ID_VAR,
    Command,
    check_env,
    command_text,
    env_prefix,
    kill_script,
    masked_env,
    new_run_id,
    plain_env,
)
from ..runner.dry import dry_result, dry_transfer, is_check, is_dry, is_held
from ..runner.guards import guard_verdict, skipped_result
from ..runner.local import run_local
from ..runner.options import RunKwargs, RunOptions, Unpack, resolve_options
from ..runner.output import OutputListener, OutputRoute, apply_route, route_listener
from ..runner.process import Process, run_process
from ..runner.shaping import Shaping
from ..runner.stdin import terminal_input
from ..runner.sudo import SudoGuard, prepare_sudo
from ..transport.sftp import SFTPSession
from ..transport.ssh import SSHTransport
from . import forward, rsync, transfer
from .facts import Facts, gather_facts
from .link import Link
from .process import RemoteProcess
from .session import PersistentSession, SessionUnavailable
from .sftp_client import SFTPClient
from .transfer import GetKwargs, LocalPath, PutKwargs, TemplateKwargs

#: Options of helper commands (hashes, mktemp, the sudo install script, validate): not the
#: caller's run.* settings, whose pty, env or shell would change what they print.
_HELPER = RunOptions(hide=("stdout", "stderr"), warn=True, in_stream=False)
#: Options of a guard's check (creates, unless, onlyif): quiet, and never raising.
_PROBE = _HELPER
#: What a connection keeps instead of a session when the host's shell cannot run one.
_NO_SESSION = object()

log = logging.getLogger("corral.remote")


#: What `shell()` takes of the run options (Fabric's list); the rest are fixed for a shell.
SHELL_OPTIONS = frozenset({"encoding", "env", "in_stream", "replace_env", "watchers"})


class Connection(Link, Shaping):
    """An SSH connection to one host; opened on first use, shared by every command on it."""

    #: Where live output goes when a call names no stream (a group's `[host] ` lines).
    output_route: OutputRoute | None = None
    #: What the latest command stopped by an interrupt (Ctrl-C) had printed.
    interrupted_result: Result | None = None
    #: The event stream of the run this connection works for (set by the executor or a
    #: group engine that records the run), and that run's id; None outside such a run.
    #: Operations emit `OperationResult` events on it.
    events: EventBus | None = None
    run_id: str | None = None
    #: Handlers (`corral.ops.Handler`) that operations on this connection notified and that
    #: have not run yet, in the order first notified, each with whether it was notified in
    #: check mode only. Replaced, never changed in place.
    pending_handlers: tuple[tuple[Any, bool], ...] = ()
    #: What this connection's transfers share with the other hosts of a group call (its
    #: memory budget and local files); set by the group engine while the call runs.
    transfer_pool: transfer.TransferPool | None = None
    _facts: Facts | None = None
    _sftp_client: SFTPClient | None = None

    @property
    def client(self) -> Any:
        """Not available: paramiko's SSHClient (Fabric's `c.client`); the error says what to
        use instead."""
        raise _not_paramiko(self.original_host, "client")

    @property
    def transport(self) -> Any:
        """Not available: paramiko's Transport (Fabric's `c.transport`); the error says what
        to use instead."""
        raise _not_paramiko(self.original_host, "transport")

    # ------------------------------------------------------------------ commands

    def _shape(self, command: Command) -> str:
        """Return the shell text of `command` under cd() and prefix(); errors name the host."""
        try:
            return super()._shape(command)
        except ConfigError as exc:
            raise ConfigError(f"{self.original_host}: {exc}") from exc

    def _options(self, kwargs: Mapping[str, Any]) -> RunOptions:
        options = apply_route(resolve_options(self.config, kwargs), self.output_route)
        check_env(options.env, self.original_host)
        return options

    async def run(self, command: Command, **kwargs: Unpack[RunKwargs]) -> Result:
        """Run a shell command on the host and return its Result.

        With a guard (`creates=PATH`, `unless=CMD`, `onlyif=CMD`) the command runs only when
        the guard allows it; a held command returns a successful Result with `skipped_by`.
        """
        return await self._run_shaped(self._shape(command), **kwargs)

    async def _run_shaped(self, shaped: str, **kwargs: Unpack[RunKwargs]) -> Result:
        """Run a command already shaped by cd() and prefix() (the blocking twin shapes it in
        the caller's thread for asynchronous=True and disown=True)."""
        options = self._options(kwargs)
        listener = route_listener(self.output_route)
        if options.is_guarded:

            async def probe(text: str) -> Result:
                return await self._run(self._shape(text), _PROBE, probe=True)

            return await self._guarded(
                shaped, options, probe, lambda: self._run(shaped, options, listener=listener)
            )
        return await self._run(shaped, options, listener=listener)

    async def probe(
        self,
        command: Command,
        *,
        sudo: bool = False,
        user: str | None = None,
        password: str | Secret | None = None,
        **kwargs: Unpack[RunKwargs],
    ) -> Result:
        """Run a read-only command that inspects the host, also under --check.

        The door for reading state (operations, guards, facts): check mode holds every other
        command, never a probe, so a probe must change nothing. Under --dry nothing connects,
        so a probe is only shown, like any command. `sudo=True` runs it through sudo (as
        root, or `user`); its output is hidden and a failure returned unless `hide`/`warn`
        say otherwise.
        """
        settings: dict[str, Any] = {"hide": True, "warn": True, **kwargs}
        options = self._options(settings)
        if options.is_guarded:
            raise ConfigError(f"{self.original_host}: probe() takes no guard (creates, ...)")
        shaped = self._shape(command)
        if sudo:
            return await self._sudo(shaped, options, user, password, probe=True)
        return await self._run(shaped, options, probe=True)

    async def _guarded(
        self,
        shaped: str,
        options: RunOptions,
        probe: Callable[[str], Awaitable[Result]],
        proceed: Callable[[], Awaitable[Result]],
    ) -> Result:
        """Run a guarded command: check its guards with probes, then run it or say why not.

        The outcome is reported as an operation (changed when the command ran, or would).
        Under --dry nothing connects: the guards are not checked and the command is shown."""
        if is_dry(self.config):
            return await proceed()
        reason = await guard_verdict(options, probe)
        if reason is not None:
            self._report("run", shaped, changed=False, message=f"skipped: {reason}")
            return skipped_result(shaped, reason, host=self.original_host, connection=self)
        check = is_check(self.config)
        try:
            result = await proceed()
        except Failure as exc:
            self._report("run", shaped, changed=True, ok=False, message=str(exc.reason))
            raise
        message = "would run" if check else f"ran (exit status {result.exited})"
        self._report("run", shaped, changed=True, ok=result.ok, message=message)
        return result

    def _report(
        self, operation: str, command: str, *, changed: bool, message: str, ok: bool = True
    ) -> None:
        """Emit an OperationResult on the run's event stream, if this connection has one."""
        if self.events is None:
            return
        self.events.emit(
            OperationResult(
                run_id=self.run_id or "",
                time=time.time(),
                host=self.original_host,
                operation=f"{operation} {command}",
                changed=changed,
                ok=ok,
                message=message,
                commands=(command,) if changed else (),
            )
        )

    async def _run(
        self,
        shaped: str,
        options: RunOptions,
        cleanup: bool = False,
        probe: bool = False,
        listener: OutputListener | None = None,
    ) -> Result:
        run_id = new_run_id()
        marker = {RUN_ID_VAR: run_id}
        env = options.env
        if self.inline_ssh_env:
            wire = env_prefix({**marker, **env}) + shaped
            masked = env_prefix({**marker, **masked_env(env)}) + shaped
            ssh_env = None
        else:
            wire = masked = env_prefix(marker) + shaped
            ssh_env = plain_env(env)
        with secret_registry.command(run_id, wire, masked):
            return await self._execute(
                wire,
                shaped,
                options,
                ssh_env,
                run_id,
                cleanup=cleanup,
                probe=probe,
                listener=listener,
            )

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
        return await self._sudo_shaped(self._shape(command), user, password, **kwargs)

    async def _sudo_shaped(
        self,
        shaped: str,
        user: str | None = None,
        password: str | Secret | None = None,
        **kwargs: Unpack[RunKwargs],
    ) -> Result:
        """sudo for a command already shaped by cd() and prefix()."""
        options = self._options(kwargs)
        listener = route_listener(self.output_route)
        if options.is_guarded:

            async def probe(text: str) -> Result:
                return await self._sudo(self._shape(text), _PROBE, user, password, probe=True)

            return await self._guarded(
                shaped,
                options,
                probe,
                lambda: self._sudo(shaped, options, user, password, listener=listener),
            )
        return await self._sudo(shaped, options, user, password, listener=listener)

    async def _sudo(
        self,
        shaped: str,
        options: RunOptions,
        user: str | None,
        password: str | Secret | None,
        cleanup: bool = False,
        probe: bool = False,
        listener: OutputListener | None = None,
    ) -> Result:
        run_id = new_run_id()
        call = prepare_sudo(
            shaped,
            {RUN_ID_VAR: run_id, **options.env},
            options,
            self.config,
            user=user,
            password=password,
            who=f"{self.user}@{self.original_host}",
        )
        with secret_registry.command(run_id, call.wire, call.masked):
            return await self._execute(
                call.wire,
                call.display,
                options,
                None,
                run_id,
                call.guard,
                cleanup,
                probe=probe,
                listener=listener,
            )

    async def _execute(
        self,
        wire: str,
        display: str,
        options: RunOptions,
        ssh_env: Mapping[str, str] | None,
        run_id: str,
        guard: SudoGuard | None = None,
        cleanup: bool = False,
        probe: bool = False,
        listener: OutputListener | None = None,
    ) -> Result:
        """Start the wire command on a channel and run it to completion (the one gate of
        --dry and --check for commands on the host: only probes pass under --check);
        `listener` gets its output (a recorded run's events)."""
        if is_held(self.config, probe=probe):  # show the command; do not run it
            check = is_check(self.config) and not is_dry(self.config)
            return dry_result(display, host=self.original_host, connection=self, check=check)

        async def kill(name: str) -> Result:
            # Signal the command's processes by their marker, from a second channel: as the
            # login user, or through sudo when the command runs under sudo.
            script = kill_script(run_id, name)  # cleanup: it must run after an interrupt too
            if guard is None:
                return await self._run(script, _HELPER, cleanup=True)
            return await self._sudo(script, _HELPER, None, guard.password, cleanup=True)

        async def stop(script: str) -> Result:
            # Stop a command of the persistent session from a second channel (the same way)
            if guard is None:
                return await self._run(script, _HELPER, cleanup=True)
            return await self._sudo(script, _HELPER, None, guard.password, cleanup=True)

        in_session = self._fits_session(options, ssh_env, guard, cleanup)

        async def start(transport: SSHTransport) -> Process:
            if in_session:
                session = await self._session(transport)
                if session is not None:
                    return session.run(wire, stop)
            process = await transport.start_process(wire, pty=options.pty, env=ssh_env)
            return RemoteProcess(process, kill)

        try:
            with self._in_flight(repr(display), cleanup):
                process = await self._with_transport(start)
                return await run_process(
                    process,
                    options,
                    command=wire,
                    display=display,
                    host=self.original_host,
                    connection=self,
                    guard=guard,
                    on_interrupt=self._was_interrupted,
                    listener=listener,
                )
        except ConnectionLost as exc:
            gateway = self.gateway
            if not isinstance(gateway, Link) or gateway.is_connected:
                raise
            raise ConnectionLost(
                exc.host,
                f"bastion {gateway.original_host} lost: {exc.reason}",
                command=exc.command,
                stdout=exc.stdout,
                stderr=exc.stderr,
            ) from exc

    def _fits_session(
        self,
        options: RunOptions,
        ssh_env: Mapping[str, str] | None,
        guard: SudoGuard | None,
        cleanup: bool,
    ) -> bool:
        """True when the command can run in the persistent session: it is on, and the
        command needs no stdin (no in_stream, terminal, watchers or sudo password), no pty
        and no SSH env request; cleanup after an interrupt always takes its own channel."""
        return (
            self.persistent_session
            and not cleanup
            and not options.pty
            and not options.watchers
            and not ssh_env
            and (guard is None or guard.password is None)
            and (options.in_stream is False or (options.in_stream is None and not terminal_input()))
        )

    async def _session(self, transport: SSHTransport) -> PersistentSession | None:
        """Return the connection's idle persistent session (started on first use), or None
        when it is busy or the host's shell cannot run one (then commands take channels)."""
        extras = transport.extras
        session = extras.get("session")
        if session is _NO_SESSION:
            return None
        if isinstance(session, PersistentSession) and not session.is_closed:
            return None if session.is_busy else session
        lock = extras.setdefault("session_lock", asyncio.Lock())
        async with lock:
            session = extras.get("session")
            if isinstance(session, PersistentSession) and not session.is_closed:
                return None if session.is_busy else session
            if session is _NO_SESSION:
                return None
            try:
                session = await PersistentSession.start(transport)
            except SessionUnavailable as exc:
                log.info(
                    "%s: no persistent session (%s); a channel per command", self.original_host, exc
                )
                extras["session"] = _NO_SESSION
                return None
            extras["session"] = session
            return session

    @contextlib.contextmanager
    def _in_flight(self, what: str, cleanup: bool = False) -> Iterator[None]:
        """Track the running task as one of this connection's operations, which `interrupt`
        stops; after an interrupt, refuse new ones (not cleanup, which must still run)."""
        if self._interrupted and not cleanup:
            raise CommandInterrupted(self.original_host, f"not started: {what} (interrupted)")
        task = asyncio.current_task()
        if task is None or task in self._commands or cleanup:
            yield  # an operation's own helper command, or cleanup: not tracked again
            return
        self._bind_loop()  # on a new loop the set starts over: before this task joins it
        self._commands.add(task)
        try:
            yield
        finally:
            self._commands.discard(task)

    def _was_interrupted(self, partial: Result) -> None:
        self.interrupted_result = partial

    def interrupt(self) -> None:
        """Stop this connection's running commands (they are terminated) and refuse new ones.

        For Ctrl-C while blocking code (a sync task in a worker thread) drives the connection.
        """
        self._interrupted = True
        for task in list(self._commands):
            task.cancel()

    async def wait_commands(self, timeout: float | None = None) -> None:
        """Wait until none of this connection's commands is running (at most `timeout` s)."""
        running = [task for task in self._commands if task is not asyncio.current_task()]
        if running:
            await asyncio.wait(running, timeout=timeout)

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

    def use_facts(self, facts: Facts | None) -> None:
        """Take facts gathered elsewhere (an inventory selection) instead of gathering again."""
        self._facts = facts

    async def shell(self, **kwargs: Unpack[RunKwargs]) -> Result:
        """Run an interactive login shell on the host, as `ssh HOST` does (with a pty; your
        terminal, or `in_stream`, as its input); return its Result when it exits.

        Takes encoding, env, in_stream, replace_env and watchers, as Fabric's does; a non-zero
        exit raises UnexpectedExit. env reaches the shell as SSH env requests, which sshd
        accepts only for the names in its AcceptEnv.
        """
        unknown = set(kwargs) - SHELL_OPTIONS
        if unknown:
            raise TypeError(
                f"shell() got unexpected keyword argument(s) {', '.join(sorted(unknown))}; "
                f"it takes {', '.join(sorted(SHELL_OPTIONS))}"
            )
        defaults = RunOptions()
        given = resolve_options(self.config, kwargs)
        options = dataclasses.replace(
            defaults,
            pty=True,
            **{name: getattr(given, name) for name in SHELL_OPTIONS},
        )
        display = "(login shell)"
        if is_dry(self.config):
            return dry_result(display, host=self.original_host, connection=self)
        env = plain_env(options.env) or None

        async def kill(name: str) -> None:
            return None  # a shell carries no run marker: its signals go through the channel

        async def start(transport: SSHTransport) -> RemoteProcess:
            process = await transport.start_process(None, pty=True, env=env)
            return RemoteProcess(process, kill)

        with self._in_flight("shell"):
            process = await self._with_transport(start)
            return await run_process(
                process,
                options,
                command=display,
                display=display,
                host=self.original_host,
                connection=self,
                on_interrupt=self._was_interrupted,
            )

    async def sftp(self) -> SFTPClient:
        """Return an SFTP client on this connection (made once, closed with it), with the
        method names fabfiles call on Fabric's (paramiko's): see `SFTPClient`."""
        if is_dry(self.config):
            raise UnsupportedError(
                f"{self.original_host}: --dry cannot show what calls made through c.sftp() "
                "would do; use c.put()/c.get() (which --dry shows), or run without --dry"
            )
        client = self._sftp_client
        if client is None or client.is_closed:
            session = await self._with_transport(SFTPSession.start)
            client = self._sftp_client = SFTPClient(session, self.original_host)
        return client

    async def close(self) -> None:
        """Close the SSH connection (and any ProxyJump hops this connection opened)."""
        client, self._sftp_client = self._sftp_client, None
        if client is not None and self._owns_loop():
            await client.close()
        await super().close()

    async def local(self, command: Command, **kwargs: Unpack[RunKwargs]) -> Result:
        """Run a shell command on this machine, with the same options as `run`."""
        options = self._options(kwargs)
        return await run_local(
            command_text(command),
            options,
            dry=is_held(self.config),
            check=is_check(self.config),
            connection=self,
            listener=route_listener(self.output_route),
        )

    # ------------------------------------------------------------------ transfers

    def _endpoint(self) -> transfer.Endpoint:
        """Return what a transfer needs of this connection: its name, cwd, SFTP, helpers."""

        pool = self.transfer_pool

        async def open_sftp() -> SFTPSession:
            if pool is None:
                return await self._with_transport(SFTPSession.start)
            return await self._with_transport(
                lambda transport: SFTPSession.start(transport, pool.budget, pool.block_size)
            )

        async def run(command: Command) -> Result:
            return await self._run(self._shape(command), _HELPER)

        async def sudo(command: str) -> Result:
            return await self._sudo(self._shape(command), _HELPER, None, None)

        async def clean(command: Command) -> Result:
            return await self._run(self._shape(command), _HELPER, cleanup=True)

        return transfer.Endpoint(
            label=self.original_host,
            host=self.host,
            user=self.user,
            port=self.port,
            cwd=self.cwd,
            open_sftp=open_sftp,
            run=run,
            sudo=sudo,
            clean=clean,
            pool=pool,
        )

    def _dry_transfer(self, verb: str, local: Any, remote: str | None) -> TransferResult | None:
        """The gate of transfers (--dry, --check): print what would move, or None to go on."""
        if not is_held(self.config):
            return None
        check = is_check(self.config) and not is_dry(self.config)
        return dry_transfer(
            verb, local, remote, host=self.original_host, connection=self, check=check
        )

    def _owned(self, result: TransferResult) -> TransferResult:
        return dataclasses.replace(result, connection=self)

    async def put(
        self,
        local: LocalPath | IO[bytes],
        remote: str | None = None,
        preserve_mode: bool = True,
        **kwargs: Unpack[PutKwargs],
    ) -> TransferResult:
        """Upload a file (or a tree with recursive=True), atomically by default, over SFTP."""
        dry = self._dry_transfer("put", local, remote)
        if dry is not None:
            return dry
        with self._in_flight("put"):
            result = await transfer.put(self._endpoint(), local, remote, preserve_mode, **kwargs)
        return self._owned(result)

    async def get(
        self,
        remote: str,
        local: LocalPath | IO[bytes] | None = None,
        preserve_mode: bool = True,
        **kwargs: Unpack[GetKwargs],
    ) -> TransferResult:
        """Download a file (or a tree); `local` may hold {host}, {user}, {port} placeholders."""
        dry = self._dry_transfer("get", local, remote)
        if dry is not None:
            return dry
        with self._in_flight("get"):
            result = await transfer.get(self._endpoint(), remote, local, preserve_mode, **kwargs)
        return self._owned(result)

    async def put_template(
        self,
        template: LocalPath,
        remote: str,
        context: Mapping[str, Any] | None = None,
        **kwargs: Unpack[TemplateKwargs],
    ) -> TransferResult:
        """Render a template here and upload it atomically, after `validate` accepts it.

        The template sees the host's vars and (once gathered) `facts`; `context` wins.
        """
        facts = {"facts": self._facts} if self._facts is not None else {}
        context = {**self.host_vars, **facts, **(context or {})}
        dry = self._dry_transfer("put", f"{template} (rendered)", remote)
        if dry is not None:
            return dry
        with self._in_flight("put_template"):
            result = await transfer.put_template(
                self._endpoint(), template, remote, context, **kwargs
            )
        return self._owned(result)

    async def rsync(
        self,
        source: str | os.PathLike[str],
        target: str,
        **kwargs: Unpack[rsync.RsyncKwargs],
    ) -> RsyncResult:
        """Sync `source` here to `target` there (upload=False: the other way) with rsync.

        rsync runs locally over OpenSSH with this connection's settings (user, port, keys,
        known_hosts, gateways) and reports what changed. Under --check it runs with rsync's
        own --dry-run: it reads both sides, reports what would change, and changes nothing.
        """
        checking = is_check(self.config) and not is_dry(self.config)
        if checking:
            kwargs = {**kwargs, "dry_run": True}
        with self._in_flight("rsync"):
            result = await rsync.rsync(
                self._chain(), source, target, dry=is_dry(self.config), **kwargs
            )
        if checking:
            changes = len(result.changed) + len(result.deleted)
            print(
                f"[{self.original_host}] would rsync {source} -> {target}: "
                f"{changes} change{'s' if changes != 1 else ''}",
                flush=True,
            )
        return dataclasses.replace(result, connection=self)

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
        return forward.forward_local(
            self._ensure_open, local_port, remote_port, remote_host, local_host
        )

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
        return forward.forward_remote(
            self._ensure_open, remote_port, local_port, remote_host, local_host
        )


def _not_paramiko(host: str, name: str) -> UnsupportedError:
    return UnsupportedError(
        f"{host}: Connection.{name} is paramiko's in Fabric, and corral is not paramiko "
        "(it runs on asyncssh). Instead: host keys: --host-key-policy or config "
        "host_key_policy; keepalives: config keepalive.interval; files: c.sftp(), c.put(), "
        "c.get(); tunnels: c.forward_local()/c.forward_remote(); a terminal: c.shell()"
    )
