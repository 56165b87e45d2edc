"""`Context`: this machine as a task's context (Invoke's Context): `run`, `sudo`, `cd`, `prefix`.

A task run without hosts receives one; `Connection` offers the same methods for a remote host.
"""

from __future__ import annotations

from ..config import Config, Secret
from ..config.defaults import local_user
from ..result import Result
from .command import Command, check_env
from .dry import is_dry
from .local import run_local
from .options import RunKwargs, Unpack, resolve_options
from .shaping import Shaping
from .sudo import prepare_sudo


class Context(Shaping):
    """Run commands on this machine, with the options of `Connection.run` and a Config."""

    def __init__(self, config: Config | None = None) -> None:
        self.config = config if config is not None else Config()

    async def run(self, command: Command, **kwargs: Unpack[RunKwargs]) -> Result:
        """Run a shell command on this machine and return its Result."""
        return await self._run_shaped(self._shape(command), **kwargs)

    async def _run_shaped(self, shaped: str, **kwargs: Unpack[RunKwargs]) -> Result:
        """Run a command already shaped by cd() and prefix() (the blocking twin shapes it in
        the caller's thread for asynchronous=True)."""
        options = resolve_options(self.config, kwargs)
        return await run_local(shaped, options, dry=is_dry(self.config), connection=self)

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
        AuthFailure at once.
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
        options = resolve_options(self.config, kwargs)
        check_env(options.env)
        call = prepare_sudo(
            shaped,
            options.env,
            options,
            self.config,
            user=user,
            password=password,
            who=f"{local_user()}@local",
        )
        return await run_local(
            call.wire,
            options,
            display=call.display,
            dry=is_dry(self.config),
            connection=self,
            guard=call.guard,
        )

    def __repr__(self) -> str:
        cwd = f" cwd={self.cwd!r}" if self._cwd else ""
        return f"<Context local{cwd}>"


async def run(command: Command, **kwargs: Unpack[RunKwargs]) -> Result:
    """Run a shell command on this machine (Invoke's `invoke.run`: a Context of its own)."""
    return await Context().run(command, **kwargs)


async def sudo(
    command: Command,
    user: str | None = None,
    password: str | Secret | None = None,
    **kwargs: Unpack[RunKwargs],
) -> Result:
    """Run a command through sudo on this machine (Invoke's `invoke.sudo`)."""
    return await Context().sudo(command, user, password, **kwargs)
