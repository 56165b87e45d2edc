"""The deploy recipe: releases, shared files, validated config, an atomic switch, rollback.

    # corralfile.py
    from corral.recipes.deploy import Recipe

    deploy, rollback, releases, health, lock, unlock = Recipe(__file__).tasks()

and a `deploy` section in corral.yaml (or any config level; `--set deploy.keep_releases=3`):

    deploy:
      path: ~/apps/{host}/hello       # where releases live on each host ({host}: its name)
      source: app/                    # a local directory: the release's files
      build: make dist                # run here once, before the first upload (optional)
      templates:                      # rendered into the release, validated before they land
        app.conf: {src: templates/app.conf.j2, validate: "{release}/bin/hello check-config {path}"}
      shared_dirs: [log]              # BASE/shared/log linked into every release
      shared_files: []
      keep_releases: 5
      reload: bin/hello reload        # run in the new release after the switch
      health: bin/hello health        # then this; when it fails the host is rolled back

On each host, under `path`: `releases/<release>/`, `shared/`, `current` (a symlink switched
atomically: a new link renamed over the old one) and `deploy.lock` while a deploy runs or
while `lock` holds the host. A deploy: takes the lock, copies the live release and sends
only what differs from `source`, renders the templates (a config `validate` rejects never
lands), links the shared paths, renames the release into place, switches `current`,
reloads, runs the health check (a failure switches back, reloads, and fails the host, so
`--max-failures` stops a rolling deploy), prunes old releases (never the live one), and
frees the lock. Relative local paths start at the recipe's root: `Recipe(root)` (a
directory, or a file such as the corralfile), else config `deploy.root`, else the current
directory. Templates see the project's own config keys, the host's vars, and `release`,
`host`, `release_path`, `shared_path` and `base`.
"""

from __future__ import annotations

import asyncio
import getpass
import os
import posixpath
import re
import shlex
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .. import operations as ops
from ..config import Config
from ..config.defaults import global_defaults
from ..errors import DeployError, DeployLockedError, HealthCheckError
from ..remote.connection import Connection
from ..result import Result
from ..runner.command import quote_path
from ..runner.dry import is_check, is_dry
from ..tasks.task import Task

#: The release name format: every host of one run gets the same name; names sort by time.
RELEASE_FORMAT = "%Y%m%d-%H%M%S-%f"
_RELEASE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*\Z")
_QUIET: dict[str, Any] = {"hide": True, "warn": True, "pty": False, "in_stream": False}


def new_release_name(now: datetime | None = None) -> str:
    """Return a release name for now (UTC, to the millisecond): `20261201-223015-123`."""
    return (now or datetime.now(timezone.utc)).strftime(RELEASE_FORMAT)[:-3]


def releases_to_prune(names: Sequence[str], current: str | None, keep: int) -> list[str]:
    """Return the releases to delete: all but the newest `keep`, never the current one."""
    ordered = sorted(names)
    old = ordered[: max(len(ordered) - keep, 0)]
    return [name for name in old if name != current]


def previous_release(names: Sequence[str], current: str | None) -> str | None:
    """Return the release deployed just before `current` (None: there is none)."""
    earlier = [name for name in sorted(names) if current is None or name < current]
    return earlier[-1] if earlier else None


def safe_host(host: str) -> str:
    """Return a host name usable in a path (`user@addr:port` -> `user_addr_port`)."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", host)


@dataclass(frozen=True)
class Settings:
    """The recipe's settings for one host, from config section `deploy`."""

    base: str
    source: str | None
    exclude: tuple[str, ...]
    build: str | None
    templates: dict[str, dict[str, Any]]
    shared_dirs: tuple[str, ...]
    shared_files: tuple[str, ...]
    keep: int
    reload: str | None
    health: str | None
    sudo: bool

    @property
    def releases(self) -> str:
        """Where the releases are."""
        return f"{self.base}/releases"

    @property
    def current(self) -> str:
        """The `current` symlink."""
        return f"{self.base}/current"

    @property
    def shared(self) -> str:
        """The shared directory."""
        return f"{self.base}/shared"

    @property
    def lock(self) -> str:
        """The lock file."""
        return f"{self.base}/deploy.lock"


def _paths(value: Any, key: str, host: str) -> tuple[str, ...]:
    items = [value] if isinstance(value, str) else list(value or [])
    for item in items:
        if not isinstance(item, str) or not item or item.startswith("/") or ".." in item.split("/"):
            raise DeployError(host, f"deploy.{key}: {item!r} must be a path inside the release")
    return tuple(items)


def settings_for(config: Config, host: str) -> Settings:
    """Read the `deploy` section of config for one host; bad values are DeployErrors."""
    section = config.get("deploy")
    data: dict[str, Any] = section.to_dict() if section is not None else {}
    base = str(data.get("path") or "~/apps/{host}/app").replace("{host}", safe_host(host))
    templates: dict[str, dict[str, Any]] = {}
    for dest, spec in (data.get("templates") or {}).items():
        entry = {"src": spec} if isinstance(spec, str) else dict(spec or {})
        if not entry.get("src"):
            raise DeployError(host, f"deploy.templates.{dest}: give the template's src")
        _paths(dest, f"templates.{dest}", host)
        templates[str(dest)] = entry
    keep = data.get("keep_releases", 5)
    if not isinstance(keep, int) or isinstance(keep, bool) or keep < 1:
        raise DeployError(host, f"deploy.keep_releases: {keep!r} must be a whole number >= 1")
    return Settings(
        base=base.rstrip("/"),
        source=data.get("source"),
        exclude=tuple(data.get("exclude") or ()),
        build=data.get("build"),
        templates=templates,
        shared_dirs=_paths(data.get("shared_dirs"), "shared_dirs", host),
        shared_files=_paths(data.get("shared_files"), "shared_files", host),
        keep=keep,
        reload=data.get("reload"),
        health=data.get("health"),
        sudo=bool(data.get("sudo", False)),
    )


def template_context(config: Config, conn: Connection) -> dict[str, Any]:
    """What templates see: the project's own config keys (not corral's) and host vars."""
    own = set(global_defaults()) | {"deploy"}
    values = {key: value for key, value in config.to_dict().items() if key not in own}
    return {**values, **conn.host_vars}


def _tail(result: Result) -> str:
    """The last line a failed command wrote, with a hint when the disk is full."""
    lines = (result.stderr or result.stdout).strip().splitlines()
    last = lines[-1] if lines else f"exit status {result.exited}"
    full = "No space left on device" in result.stderr or "Disk quota exceeded" in result.stderr
    return last + (" (disk full?)" if full else "")


def _who() -> str:
    return f"{getpass.getuser()}@{socket.gethostname()}"


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())


class Recipe:
    """The deploy recipe: `deploy`, `rollback`, `releases`, `health`, `lock`, `unlock`.

    Each is an async method taking a `corral.aio.Connection` (usable with
    `Group.apply(recipe.deploy, batch_size=..., max_failures=...)`), and `tasks()` makes
    them corralfile tasks.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        path = Path(root) if root is not None else None
        if path is not None and path.is_file():
            path = path.parent
        self.root = path
        self.release = new_release_name()
        self._built: asyncio.Future[None] | None = None

    # ------------------------------------------------------------------ helpers

    def local_path(self, config: Config, path: str) -> Path:
        """Resolve a local path from config: as given when absolute, else from the root."""
        root = self.root or Path(str(config.get("deploy.root") or os.getcwd()))
        return (root / os.path.expanduser(path)).resolve()

    async def _run(self, c: Connection, s: Settings, command: str, **kwargs: Any) -> Result:
        options = {**_QUIET, **kwargs}
        if s.sudo:
            return await c.sudo(command, **options)
        return await c.run(command, **options)

    async def _read(self, c: Connection, s: Settings, command: str) -> Result:
        return await c.probe(command, sudo=s.sudo, **_QUIET)

    async def state(self, c: Connection, s: Settings) -> tuple[list[str], str | None, str | None]:
        """Return (releases oldest first, the current one, the lock's text) in one probe."""
        b = quote_path(s.base)
        result = await self._read(
            c,
            s,
            f'b={b}; echo corral:releases; ls -1 -- "$b/releases" 2>/dev/null || :; '
            'echo corral:current; readlink -- "$b/current" 2>/dev/null || :; '
            'echo corral:lock; cat -- "$b/deploy.lock" 2>/dev/null || :',
        )
        text = result.stdout
        if is_dry(c.config):
            return [], None, None
        parts = re.split(r"^corral:(releases|current|lock)$", text, flags=re.M)
        found = dict(zip(parts[1::2], parts[2::2], strict=False))
        names = sorted(n for n in found.get("releases", "").split() if not n.startswith("."))
        current = found.get("current", "").strip().rpartition("/")[2] or None
        lock = found.get("lock", "").strip() or None
        return names, current, lock

    def _refuse_lock(self, host: str, lock: str | None) -> None:
        if lock is not None:
            raise DeployLockedError(
                host, f"deploys are locked ({lock}); the unlock task frees the host"
            )

    async def _build(self, c: Connection, s: Settings) -> None:
        """Run the build command here, once per run, whichever host needs it first."""
        if not s.build:
            return
        if self._built is None:
            self._built = asyncio.get_running_loop().create_future()
            try:
                await c.local(s.build, hide=False, warn=False)
            except BaseException as exc:
                self._built.set_exception(exc)
                raise
            self._built.set_result(None)
        await asyncio.shield(self._built)

    # ------------------------------------------------------------------ the tasks

    async def deploy(self, c: Connection, release: str = "") -> Result | None:
        """Deploy a release: upload, render, link, switch, reload, check health, prune."""
        host = c.original_host
        s = settings_for(c.config, host)
        name = release or self.release
        if not _RELEASE.match(name):
            raise DeployError(host, f"release name {name!r}: use letters, digits, . _ -")
        names, current, lock = await self.state(c, s)
        self._refuse_lock(host, lock)
        if name in names:
            raise DeployError(host, f"release {name} exists already; name another", release=name)
        checking = is_check(c.config)
        token = await self._take_lock(c, s, f"deploying {name}")
        try:
            await self._build(c, s)
            staging = f"{s.releases}/.{name}.partial"
            await self._stage(c, s, name, current)
            moved = await self._run(
                c, s, f"mv -T -- {quote_path(staging)} {quote_path(s.releases + '/' + name)}"
            )
            if not moved.ok:
                await self._run(c, s, f"rm -rf -- {quote_path(staging)}")
                raise DeployError(host, f"cannot place release {name}: {_tail(moved)}")
            await ops.symlink(c, s.current, f"releases/{name}", sudo=s.sudo)
            said = await self._reload(c, s)
            await self._check_health(c, s, name, current)
            doomed = releases_to_prune([*names, name], name, s.keep)
            if doomed:
                quoted = " ".join(shlex.quote(n) for n in doomed)
                await self._run(c, s, f"cd {quote_path(s.releases)} && rm -rf -- {quoted}")
            if checking:
                print(f"[{host}] would deploy release {name}", flush=True)
            return said
        finally:
            await self._free_lock(c, s, token)

    async def _stage(self, c: Connection, s: Settings, name: str, current: str | None) -> None:
        """Make the new release in a hidden directory: the live one's copy, then the source's
        differences, the templates and the shared links; removed again on any failure."""
        staging = f"{s.releases}/.{name}.partial"
        q = quote_path(staging)
        seed = f" && cp -a -- {quote_path(s.releases + '/' + current)}/. {q}/" if current else ""
        dirs = " ".join(quote_path(f"{s.shared}/{d}") for d in s.shared_dirs)
        made = await self._run(
            c, s,
            f"rm -rf -- {q} && mkdir -p -- {quote_path(s.releases)} {q}{seed}"
            + (f" && mkdir -p -- {dirs}" if dirs else ""),
        )  # fmt: skip
        if not made.ok:
            await self._run(c, s, f"rm -rf -- {q}")
            raise DeployError(
                c.original_host, f"cannot prepare release {name}: {_tail(made)}", release=name
            )
        try:
            if s.source:
                source = self.local_path(c.config, s.source)
                links = (*s.shared_dirs, *s.shared_files)
                exclude = (*s.exclude, *s.templates, *links)
                await ops.copy_tree(c, source, staging, delete=True, exclude=exclude, sudo=s.sudo)
            context = {
                **template_context(c.config, c),
                "release": name,
                "release_path": staging,
                "host": c.original_host,
                "base": s.base,
                "shared_path": s.shared,
            }
            for dest, spec in s.templates.items():
                validate = spec.get("validate")
                if validate:
                    validate = str(validate).replace("{release}", quote_path(staging))
                await ops.template(
                    c, self.local_path(c.config, str(spec["src"])), f"{staging}/{dest}", context,
                    validate=validate, mode=spec.get("mode"), sudo=s.sudo,
                )  # fmt: skip
            for path in (*s.shared_dirs, *s.shared_files):
                await self._link_shared(c, s, staging, path)
        except BaseException:
            await self._run(c, s, f"rm -rf -- {q}")  # no half-made release stays behind
            raise

    async def _link_shared(self, c: Connection, s: Settings, staging: str, path: str) -> None:
        if path in s.shared_files and not is_dry(c.config):
            there = await self._read(c, s, f"test -e {quote_path(s.shared + '/' + path)}")
            if not there.ok:
                raise DeployError(
                    c.original_host,
                    f"shared file {s.shared}/{path} does not exist; put it there first",
                )
        depth = path.count("/") + 2  # from releases/<release>/<path> up to BASE
        target = "../" * depth + f"shared/{path}"
        parent = posixpath.dirname(f"{staging}/{path}")
        await self._run(c, s, f"mkdir -p -- {quote_path(parent)} && rm -rf -- "
                              f"{quote_path(staging + '/' + path)}")  # fmt: skip
        await ops.symlink(c, f"{staging}/{path}", target, sudo=s.sudo)

    async def _reload(self, c: Connection, s: Settings) -> Result | None:
        if not s.reload:
            return None
        with c.cd(s.current):
            return await self._run(c, s, s.reload, hide=False, warn=False)

    async def _check_health(
        self, c: Connection, s: Settings, name: str, previous: str | None
    ) -> None:
        if not s.health:
            return
        with c.cd(s.current):
            result = await self._run(c, s, s.health, hide=False, warn=True)
        if result.ok:
            return
        restored = None
        if previous is not None:
            await ops.symlink(c, s.current, f"releases/{previous}", sudo=s.sudo)
            await self._reload(c, s)
            restored = previous
        back = f"rolled back to {previous}" if previous else "no release to roll back to"
        raise HealthCheckError(
            c.original_host,
            f"health check {s.health!r} failed after switching to {name} "
            f"(exit status {result.exited}); {back}",
            release=name,
            restored=restored,
        )

    async def _take_lock(self, c: Connection, s: Settings, why: str) -> str | None:
        """Create the lock file atomically (noclobber); None under --check (nothing made)."""
        if is_check(c.config) or is_dry(c.config):
            return None
        token = f"{why} by {_who()} since {_now()}"
        lock = quote_path(s.lock)
        made = await self._run(
            c, s,
            f"mkdir -p -- {quote_path(s.base)} || exit 1\n"
            f"if [ -s {lock} ]; then cat -- {lock}; exit 75; fi\n"
            # noclobber: the file is created only if it is not there (O_EXCL), atomically
            f"( set -C; printf '%s\\n' {shlex.quote(token)} > {lock} ) || "
            f"{{ if [ -s {lock} ]; then cat -- {lock}; exit 75; fi; rm -f -- {lock}; exit 1; }}",
        )  # fmt: skip
        if made.exited == 75:
            self._refuse_lock(c.original_host, made.stdout.strip() or "by another deploy")
        if not made.ok:
            raise DeployError(c.original_host, f"cannot take the lock {s.lock}: {_tail(made)}")
        return token

    async def _free_lock(self, c: Connection, s: Settings, token: str | None) -> None:
        """Remove the lock, if it is still the one this deploy took."""
        if token is None:
            return
        lock = quote_path(s.lock)
        await self._run(
            c, s, f'[ "$(cat -- {lock} 2>/dev/null)" != {shlex.quote(token)} ] || rm -f -- {lock}'
        )

    async def rollback(self, c: Connection, to: str = "") -> Result | None:
        """Switch `current` back to the release before it (or to release `to`), and reload."""
        host = c.original_host
        s = settings_for(c.config, host)
        names, current, lock = await self.state(c, s)
        self._refuse_lock(host, lock)
        target = to or previous_release(names, current)
        if target is None or target not in names:
            known = ", ".join(names) or "none"
            what = f"release {to!r}" if to else f"no release before {current or '(none)'}"
            raise DeployError(host, f"{what} to roll back to (releases: {known})", release=to)
        token = await self._take_lock(c, s, f"rolling back to {target}")
        try:
            await ops.symlink(c, s.current, f"releases/{target}", sudo=s.sudo)
            said = await self._reload(c, s)
        finally:
            await self._free_lock(c, s, token)
        words = "would roll back" if is_check(c.config) else "rolled back"
        print(f"{host}: {words} from {current} to {target}", flush=True)
        return said

    async def releases(self, c: Connection) -> list[str]:
        """Print the releases on the host (* marks the live one) and return their names."""
        s = settings_for(c.config, c.original_host)
        names, current, _ = await self.state(c, s)
        for name in names:
            print(f"{c.original_host}: {'*' if name == current else ' '} {name}", flush=True)
        return names

    async def health(self, c: Connection) -> Result:
        """Run the health check in the live release (fails like any command)."""
        s = settings_for(c.config, c.original_host)
        if not s.health:
            raise DeployError(c.original_host, "deploy.health is not set")
        with c.cd(s.current):
            return await self._run(c, s, s.health, hide=False, warn=False)

    async def lock(self, c: Connection, reason: str = "no reason given") -> None:
        """Refuse deploys and rollbacks on the host until unlock (exit status 75)."""
        s = settings_for(c.config, c.original_host)
        text = f"locked by {_who()} since {_now()}: {reason}"
        await self._run(
            c, s,
            f"mkdir -p -- {quote_path(s.base)} && printf '%s\\n' {shlex.quote(text)} "
            f"> {quote_path(s.lock)}",
            warn=False,
        )  # fmt: skip

    async def unlock(self, c: Connection) -> None:
        """Allow deploys and rollbacks again (removes the lock, whoever holds it)."""
        s = settings_for(c.config, c.original_host)
        await self._run(c, s, f"rm -f -- {quote_path(s.lock)}", warn=False)

    # ------------------------------------------------------------------ tasks

    def tasks(self) -> tuple[Task[..., Any], ...]:
        """Return the corralfile tasks: deploy, rollback, releases, health, lock, unlock."""
        recipe = self

        async def deploy(c: Connection, release: str = "") -> Result | None:
            """Deploy a release: upload, render, switch, reload, check, prune."""
            return await recipe.deploy(c, release)

        async def rollback(c: Connection, to: str = "") -> Result | None:
            """Switch back to the previous release (or --to NAME) and reload."""
            return await recipe.rollback(c, to)

        async def releases(c: Connection) -> None:
            """List the releases on each host; * marks the current one."""
            await recipe.releases(c)

        async def health(c: Connection) -> Result:
            """Run the health check in the current release."""
            return await recipe.health(c)

        async def lock(c: Connection, reason: str = "no reason given") -> None:
            """Refuse deploys and rollbacks on these hosts until unlock."""
            await recipe.lock(c, reason)

        async def unlock(c: Connection) -> None:
            """Allow deploys and rollbacks again."""
            await recipe.unlock(c)

        help_text = {
            "release": "Name of the new release (default: the time, UTC).",
            "to": "The release to roll back to (default: the one before the current one).",
            "reason": "Why: shown to whoever tries to deploy.",
        }
        made = []
        for body in (deploy, rollback, releases, health, lock, unlock):
            params = set(body.__code__.co_varnames[1 : body.__code__.co_argcount])
            made.append(Task(body, help={k: v for k, v in help_text.items() if k in params}))
        return tuple(made)


#: The recipe with its root from config `deploy.root` (else the current directory).
recipe = Recipe()
deploy, rollback, releases, health, lock, unlock = recipe.tasks()

__all__ = [
    "Recipe",
    "Settings",
    "deploy",
    "health",
    "lock",
    "new_release_name",
    "previous_release",
    "recipe",
    "releases",
    "releases_to_prune",
    "rollback",
    "settings_for",
    "unlock",
]
