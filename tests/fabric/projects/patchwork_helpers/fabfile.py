"""Provisioning with patchwork's helpers: idempotent directories, lines in files, checks."""

import os

from fabric import task
from patchwork.environment import have_program
from patchwork.files import append, contains, directory, exists
from patchwork.info import distro_family

ROOT = os.environ["FABTEST_ROOT"]


def base(c):
    return f"{ROOT}/{c.original_host}"


@task
def provision(c):
    """Make the app's directory and config, twice over: the second run changes nothing."""
    for _ in range(2):
        directory(c, f"{base(c)}/etc/app", mode="750")
        append(c, f"{base(c)}/etc/app/app.conf", ["port = 8080", "name = it's me"])
        append(c, f"{base(c)}/etc/app/app.conf", "port = 8080")
    lines = c.run(f"cat {base(c)}/etc/app/app.conf", hide=True).stdout.splitlines()
    mode = c.run(f"stat -c %a {base(c)}/etc/app", hide=True).stdout.strip()
    print(f"{c.original_host}: {len(lines)} lines, mode {mode}")


@task
def facts(c):
    """Report what patchwork finds on the host."""
    conf = f"{base(c)}/etc/app/app.conf"
    print(f"{c.original_host}: conf exists: {exists(c, conf)}")
    print(f"{c.original_host}: home exists (~): {exists(c, '~')}")
    print(f"{c.original_host}: nothing at ~/nope: {not exists(c, '~/nope')}")
    print(f"{c.original_host}: port line: {contains(c, conf, 'port = 8080', exact=True)}")
    print(f"{c.original_host}: partial: {contains(c, conf, 'port')}")
    print(f"{c.original_host}: regex: {contains(c, conf, '^name = .*me$', escape=False)}")
    print(f"{c.original_host}: has sh: {bool(have_program(c, 'sh'))}")
    print(f"{c.original_host}: has nope: {bool(have_program(c, 'no-such-program'))}")
    print(f"{c.original_host}: family: {distro_family(c)}")


@task
def root_dir(c):
    """A directory made through sudo (sudo=True picks c.sudo)."""
    target = f"/tmp/{os.path.basename(ROOT)}-{c.original_host}"
    directory(c, target, user="root", mode="700", sudo=True)
    owner = c.run(f"stat -c %U:%a {target}", hide=True).stdout.strip()
    print(f"{c.original_host}: {owner}")
    c.sudo(f"rm -rf {target}")
