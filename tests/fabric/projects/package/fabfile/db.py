"""Database tasks."""

from fabric import task
from helpers import banner


@task
def migrate(c, steps=1):
    """Apply STEPS migrations."""
    c.run(f"echo migrating {steps}", hide=True)
    print(banner(c, f"migrated {steps}"))


@task(aliases=["bak"])
def backup(c):
    """Back the database up."""
    print(banner(c, "backed up"))
