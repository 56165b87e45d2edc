"""Release-directory deploys: upload a tarball, unpack it into releases/NNN, switch `current`,
keep the newest few, roll back. The usual Fabric 2 fabfile of a small web service."""

import os
import tarfile

from fabric import Connection, task  # noqa: F401  (Connection: as real fabfiles import it)
from invoke.exceptions import UnexpectedExit

ROOT = os.environ["FABTEST_ROOT"]


def app_dir(c):
    return f"{ROOT}/{c.original_host}/hello"


def releases(c):
    result = c.run(f"ls -1 {app_dir(c)}/releases", hide=True, warn=True)
    return sorted(result.stdout.split()) if result.ok else []


@task
def setup(c):
    """Create the app's directories."""
    c.run(f"mkdir -p {app_dir(c)}/releases {app_dir(c)}/shared")
    c.run(f"echo 'secret={c.config.deploy.secret}' > {app_dir(c)}/shared/env")


@task
def pack(c):
    """Build the release tarball here."""
    with tarfile.open("hello.tar.gz", "w:gz") as tar:
        tar.add("app", arcname="hello")
    print("packed hello.tar.gz")


@task(pre=[pack])
def deploy(c):
    """Upload and switch to a new release."""
    setup(c)
    number = len(releases(c)) + 1
    release = f"{app_dir(c)}/releases/{number:03d}"
    c.run(f"mkdir -p {release}")
    c.put("hello.tar.gz", f"{release}/hello.tar.gz")
    with c.cd(release):
        c.run("tar xzf hello.tar.gz --strip-components=1 && rm hello.tar.gz")
        c.run("ln -sfn ../../shared/env env")
    c.run(f"ln -sfn releases/{number:03d} {app_dir(c)}/current")
    keep = c.config.deploy.keep
    for old in releases(c)[:-keep]:
        c.run(f"rm -rf {app_dir(c)}/releases/{old}")
    print(f"{c.original_host}: release {number:03d} is live")


@task
def current(c):
    """Say which release is live."""
    target = c.run(f"readlink {app_dir(c)}/current", hide=True).stdout.strip()
    print(f"{c.original_host}: {os.path.basename(target)}")


@task
def rollback(c):
    """Switch back to the release before the live one."""
    live = os.path.basename(c.run(f"readlink {app_dir(c)}/current", hide=True).stdout.strip())
    older = [r for r in releases(c) if r < live]
    if not older:
        print(f"{c.original_host}: nothing to roll back to")
        return
    c.run(f"ln -sfn releases/{older[-1]} {app_dir(c)}/current")
    print(f"{c.original_host}: rolled back to {older[-1]}")


@task
def check(c):
    """Run the app's self-test on the host."""
    try:
        c.run(f"sh {app_dir(c)}/current/bin/hello --check", hide=True)
    except UnexpectedExit as exc:
        print(f"{c.original_host}: check failed with {exc.result.exited}")
        raise
    print(f"{c.original_host}: check ok")
