"""Web server tasks."""

from fabric import task
from helpers import banner


@task
def restart(c):
    """Restart the web server."""
    print(banner(c, f"restarted with {c.config.site.workers} workers"))


@task
def status(c):
    """Report the web server."""
    up = c.run("echo up", hide=True).stdout.strip()
    print(banner(c, up))
