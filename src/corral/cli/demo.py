"""`corral demo`: a throwaway local fleet, a tour of what corral does, then a clean stop."""

from __future__ import annotations

import asyncio
import sys
import time

import corral
import corral.aio

from ..testing.fleet import Fleet, FleetError, start_fleet
from ..testing.server import EmbeddedFleet


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
        return _tour(fleet)
    finally:
        fleet.stop()
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
