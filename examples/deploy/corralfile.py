"""Deploy "hello", a toy service: releases, an atomic switch, pruning, rollback.

    corral -H web1,web2 deploy                          # deploy_env from corral.yaml: staging
    corral -H web1,web2 --set deploy_env=production deploy
    corral -H web1,web2 releases                        # * marks the live release
    corral -H web1,web2 rollback                        # back to the release before it
    corral -H web1,web2 health                          # exits 3 where hello is not current
    corral -H web2 lock --reason "debugging"            # deploys to web2 fail (status 75)
    corral -P --batch-size 1 --max-failures 0 -H web1,web2,web3 deploy   # rolling, stops early
    corral -G web deploy            # inventory.yaml's hosts, each group with its deploy_env

Each host holds, under app.base (corral.yaml: ~/apps/{host}/hello):

    releases/20261126-101530-123/   one directory per deploy: bin/hello and its app.conf
    current -> releases/...         the live release, switched atomically
    running                         the release the service last (re)loaded
    deploy.lock                     present while deploys are locked (lock, unlock)
"""

from __future__ import annotations

import contextlib
import re
import shlex
import sys
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from corral import Connection, Result, task

HERE = Path(__file__).resolve().parent
APP = HERE / "app"  # what a release holds; its bin/hello also validates configs
TEMPLATE = HERE / "templates" / "app.conf.j2"
#: The release name of this run: every host gets the same one. Names sort by time.
RELEASE = datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-%f")[:-3]


@dataclass(frozen=True)
class Site:
    """Where hello lives on one host, and the settings it is deployed with there."""

    host: str
    base: str  # e.g. ~/apps/web1/hello
    keep: int  # releases kept by the pruning after each deploy
    settings: dict[str, Any]  # what the config template sees

    @property
    def releases(self) -> str:
        return f"{self.base}/releases"

    @property
    def current(self) -> str:
        return f"{self.base}/current"


def site(c: Connection) -> Site:
    """Read this host's paths and settings from the config (corral.yaml, then --set)."""
    host = getattr(c, "original_host", None)
    if host is None:
        sys.exit("these tasks run on hosts: give them with -H HOST[,HOST...]")
    config = c.config
    env = config.get("deploy_env")
    environments = config.get("environments") or {}
    if env not in environments:
        known = ", ".join(environments) or "none"
        sys.exit(f"deploy_env={env!r} is not an environment of corral.yaml (known: {known})")
    chosen = config.get(f"environments.{env}").to_dict()
    replicas = config.get("app.replicas")
    settings = {
        "deploy_env": env,
        "replicas": chosen["replicas"] if replicas is None else replicas,
        "banner": chosen.get("banner", ""),
        "port": config.get("app.port", 8080),
    }
    safe_host = re.sub(r"[^A-Za-z0-9._-]", "_", host)  # user@addr:port -> a directory name
    base = str(config.get("app.base", "~/apps/{host}/hello")).replace("{host}", safe_host)
    return Site(host, base.rstrip("/"), int(config.get("app.keep_releases", 5)), settings)


def sh(path: str) -> str:
    """Quote a remote path for the shell, keeping a leading ~/ expandable."""
    if path.startswith("~/"):
        return "~/" + shlex.quote(path[2:])
    return shlex.quote(path)


def is_dry(c: Connection) -> bool:
    """True under `corral --dry`: run() only prints, and so must our uploads."""
    return bool(c.config.get("run.dry"))


# ---------------------------------------------------------------------- pure logic


def releases_to_prune(names: list[str], current: str, keep: int) -> list[str]:
    """Return the releases to delete: all but the newest `keep`, never the current one."""
    ordered = sorted(names)
    old = ordered[: max(len(ordered) - keep, 0)]
    return [name for name in old if name != current]


def previous_release(names: list[str], current: str) -> str | None:
    """Return the release deployed just before `current`, or None."""
    earlier = [name for name in sorted(names) if name < current]
    return earlier[-1] if earlier else None


# ---------------------------------------------------------------------- steps on a host


def list_releases(c: Connection, s: Site) -> list[str]:
    """Return the release names on the host, oldest first."""
    result = c.run(f"ls -1 {sh(s.releases)}", hide=True, warn=True)
    return sorted(result.stdout.split()) if result.ok else []


def current_release(c: Connection, s: Site) -> str:
    """Return the live release's name ("" when nothing is deployed)."""
    result = c.run(f"readlink {sh(s.current)}", hide=True, warn=True)
    return result.stdout.strip().rpartition("/")[2] if result.ok else ""


def switch(c: Connection, s: Site, release: str) -> None:
    """Point `current` at a release atomically: make the new link, rename it over the old."""
    link = f"{s.current}.new"
    c.run(f"ln -sfn releases/{shlex.quote(release)} {sh(link)} && mv -T {sh(link)} {sh(s.current)}")


def reload(c: Connection, s: Site) -> Result:
    """Make the service load the current release (hello's own reload); return what it said."""
    return c.run(f"{sh(s.current)}/bin/hello reload")


def check_unlocked(c: Connection, s: Site) -> None:
    """Fail with status 75 (EX_TEMPFAIL), showing the reason, where deploys are locked."""
    lock = f"{sh(s.base)}/deploy.lock"
    c.run(f"test ! -e {lock} || {{ cat {lock} >&2; exit 75; }}")


def prune(c: Connection, s: Site) -> None:
    """Delete old releases, keeping the newest `keep` and the current one."""
    old = releases_to_prune(list_releases(c, s), current_release(c, s), s.keep)
    if old:
        c.run(f"cd {sh(s.releases)} && rm -rf -- {' '.join(shlex.quote(n) for n in old)}")


# ---------------------------------------------------------------------- tasks


@task(help={"release": "Name of the new release (default: the time, UTC)."})
def deploy(c: Connection, release: str = "") -> Result:
    """Deploy a release: upload, validate, switch, reload, prune.

    The config is rendered from templates/app.conf.j2 with the settings of deploy_env, and
    checked by the new release's own `hello check-config` before it can go live.
    """
    s = site(c)
    check_unlocked(c, s)
    release = release or RELEASE
    staging = f"{s.releases}/.{release}.partial"  # hidden until complete
    c.run(f"mkdir -p {sh(s.releases)} && rm -rf {sh(staging)}")
    try:
        context = {**s.settings, "release": release, "host": s.host}
        # The validate command runs on the uploaded temp file, before it replaces app.conf:
        # a config hello rejects never lands, and the live release is untouched.
        validate = f"{sh(staging)}/bin/hello check-config {{path}}"
        if is_dry(c):  # put() does not know --dry: say what would be uploaded
            print(f"[{s.host}] put {APP}/ -> {staging}/")
            print(f"[{s.host}] put_template {TEMPLATE.name} -> {staging}/app.conf")
        else:
            c.put(str(APP), staging, recursive=True)
            c.put_template(TEMPLATE, f"{staging}/app.conf", context, validate=validate)
        c.run(f"mv -T {sh(staging)} {sh(s.releases + '/' + release)}")
    except Exception:
        with contextlib.suppress(Exception):  # leave no half-made release behind
            c.run(f"rm -rf {sh(staging)}", hide=True, warn=True)
        raise
    switch(c, s, release)
    said = reload(c, s)
    prune(c, s)
    return said  # `corral -P deploy` groups the hosts that said the same


@task
def rollback(c: Connection) -> Result:
    """Switch back to the release before the current one, and reload."""
    s = site(c)
    check_unlocked(c, s)
    current = current_release(c, s)
    previous = previous_release(list_releases(c, s), current)
    if previous is None:
        sys.exit(f"{s.host}: no release before {current or '(none deployed)'} to roll back to")
    switch(c, s, previous)
    said = reload(c, s)
    print(f"{s.host}: rolled back from {current} to {previous}")
    return said


@task
def releases(c: Connection) -> None:
    """List the releases on each host; * marks the current one."""
    s = site(c)
    current = current_release(c, s)
    for name in list_releases(c, s):
        print(f"{s.host}: {'*' if name == current else ' '} {name}")


@task
def health(c: Connection) -> Result:
    """Check that hello runs the current release (it exits 3 if not)."""
    s = site(c)
    return c.run(f"{sh(s.current)}/bin/hello health")


@task(help={"reason": "Why: shown to whoever tries to deploy."})
def lock(c: Connection, reason: str = "no reason given") -> None:
    """Refuse deploys and rollbacks on these hosts until unlock."""
    s = site(c)
    message = shlex.quote(f"deploys to {s.host} are locked: {reason}")
    c.run(f"mkdir -p {sh(s.base)} && echo {message} > {sh(s.base)}/deploy.lock")


@task
def unlock(c: Connection) -> None:
    """Allow deploys and rollbacks again."""
    s = site(c)
    c.run(f"rm -f {sh(s.base)}/deploy.lock")
