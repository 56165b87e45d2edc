"""Local steps with invoke's run, hosts given as dicts, and a stage task whose settings reach
the tasks after it."""

import os

from fabric import task
from invoke import run as local

USER = os.environ["FABTEST_USER"]
KEY = os.environ["FABTEST_KEY"]
ADDRESS = os.environ["FABTEST_ADDRESS"]  # host:port, with no ssh_config entry


@task
def build(c):
    """Build here (deploy's pre-task: it runs once, locally)."""
    out = local("echo built-$((6 * 7))", hide=True).stdout.strip()
    print(f"build: {out} ({type(c).__name__})")


@task
def notify(c):
    """Report here (deploy's post-task)."""
    print(f"notify: ({type(c).__name__})")


@task(
    pre=[build],
    post=[notify],
    hosts=[{"host": "host1", "user": USER, "connect_kwargs": {"key_filename": KEY}}, "host2"],
)
def deploy(c):
    """Deploy to the task's own hosts."""
    who = c.run("whoami", hide=True).stdout.strip()
    print(f"deploy: {c.original_host} as {who}")


@task
def stage(c, user):
    """Choose who logs in, and with which key, for the tasks after this one."""
    c.user = user
    c.connect_kwargs.key_filename = KEY
    c.config.stage = "production"


@task(hosts=[ADDRESS])
def whoami(c):
    """Log in where ssh_config says nothing: the stage's settings decide."""
    who = c.run("whoami", hide=True).stdout.strip()
    print(f"whoami: {who} stage={c.config.get('stage')}")
