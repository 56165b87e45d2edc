"""Password logins, and prompts answered by watchers: the sudo prompt with a Responder, a
wrong password seen by a FailingResponder, sudo's password from config."""

import os

from fabric import Connection, task
from invoke import FailingResponder, Responder
from invoke.exceptions import Failure

PASSWORD = os.environ["FABTEST_PASSWORD"]
USER = os.environ["FABTEST_USER"]
PROMPT = "[sudo] password:"


@task
def login(c, address):
    """Log in to ADDRESS (host:port) with the password alone, no key."""
    conn = Connection(
        address,
        user=USER,
        config=c.config,
        connect_kwargs={"password": PASSWORD, "look_for_keys": False, "allow_agent": False},
    )
    print(f"login: {conn.run('whoami', hide=True).stdout.strip()}")
    conn.close()


@task
def prompt(c):
    """Answer sudo's own prompt with a Responder, on a pty."""
    responder = Responder(pattern=r"\[sudo\] password:", response=PASSWORD + "\n")
    result = c.run(
        f"sudo -k; sudo -S -p '{PROMPT}' whoami", pty=True, watchers=[responder], hide=True
    )
    print(f"prompt: {result.stdout.strip().splitlines()[-1]}")


@task
def refused(c):
    """A wrong answer: the FailingResponder sees sudo refuse it."""
    responder = FailingResponder(
        pattern=r"\[sudo\] password:", response="wrong\n", sentinel="try again"
    )
    try:
        c.run(f"sudo -k; sudo -S -p '{PROMPT}' whoami", pty=True, watchers=[responder], hide=True)
    except Failure as exc:
        print(f"refused: {type(exc).__name__}")


@task
def configured(c):
    """sudo with the password from config, set by the task."""
    c.config.sudo.password = PASSWORD
    print(f"configured: {c.sudo('whoami', hide=True).stdout.strip()}")
