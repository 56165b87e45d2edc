"""Tasks with arguments, and files both ways: flags from signatures, put and get, Exit."""

import os

from fabric import task
from invoke import Exit
from invoke.exceptions import UnexpectedExit

ROOT = os.environ["FABTEST_ROOT"]


def remote_dir(c):
    return f"{ROOT}/{c.original_host}/files"


@task(
    help={"name": "File under files/ to upload.", "mode": "Octal permission bits."},
    iterable=["tag"],
)
def upload(c, name, mode="644", tag=None, force=False):
    """Upload files/NAME, with tags written beside it."""
    local = os.path.join("files", name)
    c.run(f"mkdir -p {remote_dir(c)}")
    target = f"{remote_dir(c)}/{name}"
    if not force and c.run(f"test -e {target}", warn=True, hide=True).ok:
        raise Exit(f"{c.original_host}: {name} is there already (give --force)", code=3)
    try:
        c.put(local, target)
    except FileNotFoundError:
        raise Exit(f"no such file here: {local}") from None
    c.run(f"chmod {mode} {target}")
    for each in tag or []:
        c.run(f"echo {each} >> {target}.tags")
    print(f"{c.original_host}: uploaded {name} ({mode}, tags: {','.join(tag or []) or '-'})")


@task
def download(c, name, into="downloads"):
    """Fetch NAME back into DOWNLOADS/HOST/."""
    local = os.path.join(into, c.original_host) + "/"
    os.makedirs(local, exist_ok=True)
    result = c.get(f"{remote_dir(c)}/{name}", local)
    with open(result.local) as handle:
        print(f"{c.original_host}: got {os.path.basename(result.local)}: {handle.read().strip()}")


@task
def count(c, lines=3, word="x"):
    """Print WORD LINES times on the host (int from the default)."""
    if lines < 1:
        raise Exit("lines must be at least 1")
    out = c.run(f"for i in $(seq {lines}); do echo {word}; done", hide=True).stdout
    print(f"{c.original_host}: {len(out.split())} {type(lines).__name__}")


@task
def probe(c, path):
    """Say whether PATH exists on the host, without failing."""
    try:
        c.run(f"test -e {path}", hide=True)
    except UnexpectedExit as exc:
        print(f"{c.original_host}: {path} missing ({exc.result.exited})")
    else:
        print(f"{c.original_host}: {path} present")
