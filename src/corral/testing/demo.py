"""`corral --demo`: a throwaway local fleet, a tour of what corral does, the deploy example
(examples/deploy) run against the fleet, a rolling deploy with a failing host, then a clean
stop (also on Ctrl-C). Part of the test kit: the `corral` command imports it only for --demo."""

from __future__ import annotations

import asyncio
import secrets
import shlex
import subprocess
import sys
import time
from importlib import resources
from pathlib import Path

import corral
import corral.aio

from .fleet import Fleet, FleetError, start_fleet
from .fleet.embedded import EmbeddedFleet

#: The deploy example (examples/deploy), shipped in the package as corral/testing/examples.
EXAMPLE = Path(str(resources.files("corral.testing") / "examples" / "deploy"))


def _say(text: str) -> None:
    bold = sys.stdout.isatty()
    print(f"\n\033[1m== {text}\033[0m" if bold else f"\n== {text}", flush=True)


async def _fan_out(fleet: Fleet, config: corral.Config) -> None:
    connections = [corral.aio.Connection(h.alias, config=config) for h in fleet.hosts]
    started = time.monotonic()
    results = await asyncio.gather(
        *(c.run("echo $(hostname -s) $SSH_CONNECTION | cut -d' ' -f1,4", hide=True)
          for c in connections)
    )  # fmt: skip
    elapsed = time.monotonic() - started
    for connection, result in zip(connections, results, strict=True):
        print(f"  [{connection.original_host}] {result.stdout.strip()}")
    print(f"  {len(results)} hosts, connected and answered in {elapsed:.2f} s (one event loop)")
    await asyncio.gather(*(c.close() for c in connections))


def run_demo(hosts: int = 3, embedded: bool = False) -> int:
    """Start a local fleet, run the tour against it, stop it; return an exit status."""
    _say(f"Starting a throwaway fleet of {hosts} SSH hosts on loopback")
    try:
        fleet = EmbeddedFleet(hosts).start() if embedded else start_fleet(hosts)
    except (FleetError, RuntimeError) as exc:
        print(f"corral demo: {exc}", file=sys.stderr)
        return 1
    try:
        status = _tour(fleet)
        return status or _deploy_tour(fleet)
    finally:
        fleet.stop()  # also on Ctrl-C (KeyboardInterrupt) and errors
        _say("Fleet stopped")


def _tour(fleet: Fleet) -> int:
    kind = "corral's embedded SSH server" if isinstance(fleet, EmbeddedFleet) else "OpenSSH sshd"
    print(f"  served by {kind}")
    print(f"  ssh_config: {fleet.ssh_config_path}  (aliases {fleet.hosts[0].alias} ...)")
    print(f"  known_hosts: {fleet.known_hosts_path}  (host keys are verified)")
    config = corral.Config(overrides={"ssh_config_path": str(fleet.ssh_config_path)})
    first = fleet.hosts[0].alias

    _say(f"Connection('{first}').run(...): an alias from ssh_config, output streamed live")
    with corral.Connection(first, config=config) as c:
        result = c.run("uname -sr; whoami")
        print(f"  -> Result(exited={result.exited}, ok={result.ok}, host={c.host}:{c.port})")

        _say("cd(), prefix() and env= (values quoted: no injection, no AcceptEnv needed)")
        with c.cd("/tmp"), c.prefix("umask 077"):
            r = c.run('echo "$PWD umask=$(umask) GREETING=$GREETING"',
                      env={"GREETING": "hello; rm -rf ~"}, hide=True)  # fmt: skip
        print(f"  {r.command!r}\n  -> {r.stdout.strip()}")

        _say("A failing command raises UnexpectedExit naming host, command, status, stderr")
        try:
            c.run("echo 'disk quota exceeded' >&2; exit 3", hide=True)
        except corral.UnexpectedExit as exc:
            print("  " + str(exc).replace("\n", "\n  "))

        _say("timeout= stops the remote command too (TERM, then KILL)")
        try:
            c.run("sleep 299", timeout=1, hide=True)
        except corral.CommandTimedOut as exc:
            print(f"  {exc}")
        left = c.run("pgrep -f '[s]leep 299' || echo none", hide=True).stdout.strip()
        print(f"  'sleep 299' processes left on {first}: {left}")

        _say("Odd bytes in output never break the connection")
        r = c.run(r"printf 'caf\351 \377\n'", hide=True)
        print(f"  stdout={r.stdout!r} (raw bytes kept: {r.stdout_bytes!r})")

    _say("corral.aio: every host at once, one event loop")
    asyncio.run(_fan_out(fleet, config))

    _say("Unknown host keys are refused (Fabric would silently accept)")
    strict = corral.Config(overrides={"ssh_config_path": "/dev/null"})
    try:
        corral.Connection(fleet.hosts[0].host_string, config=strict).run("true")
    except corral.HostKeyError as exc:
        print("  " + str(exc))
    return 0


def _deploy_tour(fleet: Fleet) -> int:
    """Run examples/deploy with the `corral` command: deploys, rollback, a rolling deploy."""
    corralfile = EXAMPLE / "corralfile.py"
    if not corralfile.is_file():
        _say("The deploy example")
        print(f"  skipped: {EXAMPLE} is missing (a corral package built without its examples)")
        return 0
    hosts = [h.alias for h in fleet.hosts]
    everyone = ",".join(hosts)
    # The hosts share one home: {host} keeps them apart. The embedded server runs as you,
    # so its releases go to the fleet's own directory (removed with it), not your home.
    root = (
        f"{fleet.directory}/apps"
        if isinstance(fleet, EmbeddedFleet)
        else f"~/corral-demo-{secrets.token_hex(4)}"
    )
    common = ["-c", str(corralfile), "-S", str(fleet.ssh_config_path)]
    common += ["--set", f"deploy.path={root}/{{host}}/hello"]
    config = corral.Config(overrides={"ssh_config_path": str(fleet.ssh_config_path)})
    first = hosts[0]

    def corral_command(*args: str) -> int:
        print(f"$ corral {' '.join(shlex.quote(a) for a in args)}", flush=True)
        return subprocess.run(
            [sys.executable, "-m", "corral.cli.main", *common, *args], stdin=subprocess.DEVNULL
        ).returncode

    def show_config() -> None:
        path = f"{root}/{first}/hello/current/app.conf"
        with corral.Connection(first, config=config) as c:
            text = c.run(f"cat {path}", hide=True).stdout
        print(f"  {first}:current/app.conf:")
        print("\n".join(f"    {line}" for line in text.splitlines()))

    _say("examples/deploy: a release directory per deploy, an atomic switch, config from --set")
    print(f"  ($ corral here stands for: corral {shlex.join(common)})")
    if corral_command("-H", everyone, "deploy") != 0:
        return 1
    show_config()

    _say("Deploy again with --set deploy_env=production, on every host at once (-P)")
    if corral_command("-H", everyone, "-P", "--set", "deploy_env=production", "deploy") != 0:
        return 1
    show_config()

    _say("Roll back: current points at the previous release again (ln -sfn, then mv -T)")
    if corral_command("-H", first, "releases") != 0:
        return 1
    if corral_command("-H", everyone, "rollback") != 0:
        return 1

    # A rolling deploy in waves; one host is locked on purpose, so its deploy fails, and
    # --max-failures 0 stops the rollout there: later waves are skipped, not half-deployed.
    broken = hosts[min(_batch(len(hosts)), len(hosts) - 1)]
    _say(f"A rolling deploy in waves of {_batch(len(hosts))}; {broken} is locked on purpose")
    if corral_command("-H", broken, "lock", "--reason", "alice is debugging it") != 0:
        return 1
    rolling = ["--batch-size", str(_batch(len(hosts))), "--max-failures", "0"]
    status = corral_command("-H", everyone, "-P", *rolling, "deploy")
    print(f"  -> corral exited with status {status}, the failed host's own, for scripts and CI")
    if not root.startswith(str(fleet.directory)):
        with corral.Connection(first, config=config) as c:
            c.run(f"rm -rf {root}", hide=True)
    return 0 if status == 75 else 1


def _batch(hosts: int) -> int:
    """Hosts per wave of the rolling deploy: three waves or more."""
    return max(1, hosts // 3)
