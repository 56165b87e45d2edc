"""shipit's tasks."""

from fabric import task


@task
def deploy(c):
    """Ship the app to the hosts (or roles) given with -H."""
    print(f"{c.original_host}: shipping to {c.config.stage}")


@task
def roles(c):
    """List the roles."""
    for name, hosts in sorted(c.config.roles.items()):
        print(f"{name}: {','.join(hosts)}")
