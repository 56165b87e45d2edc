"""Fabric and Invoke used module-style: `import fabric`, `fabric.Connection`, `invoke.run`."""

import os

import fabric
import invoke

ROOT = os.environ["FABTEST_ROOT"]


@fabric.task
def where(c):
    """Run here and on the host, through the modules' names."""
    here = invoke.run("echo local-$((6 * 7))", hide=True).stdout.strip()
    there = c.run("echo remote-$((6 * 7))", hide=True).stdout.strip()
    print(f"{c.original_host}: {here} {there} {isinstance(c, fabric.Connection)}")


@fabric.task
def fan_out(c, hosts):
    """Open connections of our own (HOSTS, comma-separated) with the run's config."""
    group = fabric.SerialGroup(*hosts.split(","), config=c.config)
    results = group.run(f"mkdir -p {ROOT} && echo ok", hide=True)
    for connection, result in sorted(results.items(), key=lambda item: item[0].original_host):
        print(f"{connection.original_host}: {result.stdout.strip()}")
    one = fabric.Connection(hosts.split(",")[0], config=c.config)
    print(f"one: {one.run('echo single', hide=True).stdout.strip()}")


@fabric.task
def settings(c):
    """Build configs of our own, as scripts do."""
    config = fabric.Config(overrides={"run": {"echo": False}, "deploy": {"replicas": 3}})
    print(f"replicas: {config.deploy.replicas}, echo: {config.run.echo}")
    result = invoke.Context(config=config).run("echo from-context", hide=True)
    print(f"context: {result.stdout.strip()} {result.ok}")


@fabric.task
def failing(c):
    """A command that fails, caught through invoke's module."""
    try:
        c.run("exit 4", hide=True)
    except invoke.UnexpectedExit as exc:
        print(f"{c.original_host}: caught {exc.result.exited}")
    try:
        invoke.run("exit 5", hide=True)
    except invoke.exceptions.UnexpectedExit as exc:
        print(f"local: caught {exc.result.exited}")
