"""`service`: a service started, stopped, restarted or reloaded, and enabled or not at boot,
with the host's init system: systemd, OpenRC, or SysV init scripts (`service`,
`update-rc.d` or `chkconfig`). The init system comes from the host's facts (PID 1).

SysV is tested against real init scripts and `service` (the test machines have no
systemd); systemd and OpenRC are tested at the level of the commands they are given.
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ServiceNotFoundError, StateConflictError
from .result import OpResult
from .step import Step

if TYPE_CHECKING:
    from ..remote.connection import Connection

ServiceState = Literal["started", "stopped", "restarted", "reloaded"]
MISSING = "corral:missing"
_NAME = re.compile(r"[A-Za-z0-9_.@:+-]+\Z")


class Init:
    """An init system: the shell text of its probe and its changes. Pure."""

    name = ""

    def probe(self, service: str) -> str:
        """Return the probe: prints `exists yes|no`, `running yes|no`, `enabled yes|no`."""
        raise NotImplementedError

    def action(self, service: str, verb: str) -> str:
        """Return the command that starts, stops, restarts or reloads the service."""
        raise NotImplementedError

    def enable(self, service: str, enabled: bool) -> str:
        """Return the command that enables (or disables) the service at boot."""
        raise NotImplementedError


class Systemd(Init):
    """systemd: `systemctl`."""

    name = "systemd"

    def probe(self, service: str) -> str:
        s = shlex.quote(service)
        return "\n".join([
            f"command -v systemctl >/dev/null 2>&1 || {{ echo {MISSING}; exit 0; }}",
            f"l=$(systemctl show -p LoadState --value -- {s} 2>/dev/null)",
            'if [ "$l" = not-found ] || [ -z "$l" ]; then echo "exists no"; exit 0; fi',
            'echo "exists yes"',
            f"if systemctl is-active --quiet -- {s}; then echo 'running yes'; "
            "else echo 'running no'; fi",
            f"e=$(systemctl is-enabled -- {s} 2>/dev/null || :)",
            'case $e in enabled|enabled-runtime|alias|static|indirect|generated) '
            'echo "enabled yes" ;; *) echo "enabled no" ;; esac',
        ])  # fmt: skip

    def action(self, service: str, verb: str) -> str:
        return f"systemctl {verb} -- {shlex.quote(service)}"

    def enable(self, service: str, enabled: bool) -> str:
        return f"systemctl {'enable' if enabled else 'disable'} -- {shlex.quote(service)}"


class SysV(Init):
    """SysV init scripts in /etc/init.d: `service` (or the script), `update-rc.d` or
    `chkconfig` for boot."""

    name = "sysv"

    def probe(self, service: str) -> str:
        s = shlex.quote(service)
        return "\n".join([
            f"if [ ! -x /etc/init.d/{s} ]; then echo 'exists no'; exit 0; fi",
            'echo "exists yes"',
            f"if {self._run(service, 'status')} >/dev/null 2>&1; then echo 'running yes'; "
            "else echo 'running no'; fi",
            f"if ls /etc/rc[2345].d/S[0-9][0-9]{s} >/dev/null 2>&1; then echo 'enabled yes'; "
            "else echo 'enabled no'; fi",
        ])  # fmt: skip

    @staticmethod
    def _run(service: str, verb: str) -> str:
        s = shlex.quote(service)
        return (
            f"{{ if command -v service >/dev/null 2>&1; then service {s} {verb}; "
            f"else /etc/init.d/{s} {verb}; fi; }}"
        )

    def action(self, service: str, verb: str) -> str:
        return self._run(service, verb)

    def enable(self, service: str, enabled: bool) -> str:
        s = shlex.quote(service)
        if enabled:
            return (
                f"if command -v update-rc.d >/dev/null 2>&1; then update-rc.d {s} defaults "
                f"&& update-rc.d {s} enable; else chkconfig --add {s} && chkconfig {s} on; fi"
            )
        return (
            f"if command -v update-rc.d >/dev/null 2>&1; then update-rc.d {s} defaults "
            f"&& update-rc.d {s} disable; else chkconfig {s} off; fi"
        )


class OpenRC(Init):
    """OpenRC: `rc-service` and `rc-update` (runlevel default)."""

    name = "openrc"

    def probe(self, service: str) -> str:
        s = shlex.quote(service)
        return "\n".join([
            f"command -v rc-service >/dev/null 2>&1 || {{ echo {MISSING}; exit 0; }}",
            f"if [ ! -x /etc/init.d/{s} ]; then echo 'exists no'; exit 0; fi",
            'echo "exists yes"',
            f"if rc-service {s} status >/dev/null 2>&1; then echo 'running yes'; "
            "else echo 'running no'; fi",
            f"if rc-update show default 2>/dev/null | grep -q '^ *'{s}' |'; then "
            "echo 'enabled yes'; else echo 'enabled no'; fi",
        ])  # fmt: skip

    def action(self, service: str, verb: str) -> str:
        return f"rc-service {shlex.quote(service)} {verb}"

    def enable(self, service: str, enabled: bool) -> str:
        verb = "add" if enabled else "del"
        return f"rc-update {verb} {shlex.quote(service)} default"


INITS: dict[str, type[Init]] = {"systemd": Systemd, "sysv": SysV, "openrc": OpenRC}


def init_for(facts_init: str | None) -> str:
    """Return the init system to use for a host whose PID 1 is `facts_init`."""
    if facts_init in ("systemd", "openrc"):
        return facts_init
    return "sysv"


def parse_probe(output: str) -> dict[str, bool] | None:
    """Read the probe's output (`exists yes`, ...); None when the init system is missing."""
    if output.strip() == MISSING:
        return None
    found: dict[str, bool] = {}
    for line in output.splitlines():
        key, _, value = line.partition(" ")
        if key in ("exists", "running", "enabled"):
            found[key] = value.strip() == "yes"
    return found


async def service(
    conn: Connection,
    name: str,
    *,
    state: ServiceState | None = None,
    enabled: bool | None = None,
    init: str | None = None,
    sudo: bool = False,
    check: bool | None = None,
    notify: Any = None,
) -> OpResult:
    """Make a service started, stopped, restarted or reloaded, and enabled at boot or not.

    started/stopped change only what differs; restarted and reloaded always act (a stopped
    service is started instead of reloaded). The init system comes from the host's facts
    (systemd, OpenRC, else SysV scripts) unless `init` names one.
    """
    step = Step(conn, "service", str(name), sudo=sudo, check=check, notify=notify)
    async with step:
        if not isinstance(name, str) or not _NAME.match(name):
            raise step.argument_error("name", f"{name!r} is not a service name")
        if state is None and enabled is None:
            raise step.argument_error("state", "give state= or enabled= (or both)")
        if state is not None and state not in ("started", "stopped", "restarted", "reloaded"):
            raise step.argument_error(
                "state",
                f"must be 'started', 'stopped', 'restarted' or 'reloaded', not {state!r}",
            )
        if init is not None and init not in INITS:
            raise step.argument_error("init", f"{init!r} is not one of {', '.join(INITS)}")
        if step.dry:
            return step.dry_run()
        if init is None:
            init = init_for((await conn.facts()).init)
        backend = INITS[init]()
        result = await step.probe(backend.probe(name), describe=f"{init}: status {name}")
        found = parse_probe(result.stdout)
        if found is None:
            raise step.error(
                StateConflictError, "init", f"{init} is not on the host; pass init= to choose"
            )
        if not found.get("exists"):
            raise step.error(
                ServiceNotFoundError,
                "name",
                f"no service named {name!r} on the host ({init}"
                + (": no /etc/init.d script)" if init != "systemd" else ": no unit)"),
            )
        running = found.get("running", False)
        words: list[str] = []
        verb: str | None = None
        if state == "started" and not running:
            verb = "start"
        elif state == "stopped" and running:
            verb = "stop"
        elif state == "restarted":
            verb = "restart"
        elif state == "reloaded":
            verb = "reload" if running else "start"
        if enabled is not None and found.get("enabled") != enabled:
            await step.change(
                backend.enable(name, enabled),
                argument="enabled",
                describe=f"{init}: {'enable' if enabled else 'disable'} {name}",
                what=f"could not {'enable' if enabled else 'disable'} {name}",
            )
            words.append("enable" if enabled else "disable")
        if verb is not None:
            await step.change(
                backend.action(name, verb),
                argument="state",
                describe=f"{init}: {verb} {name}",
                what=f"{name} did not {verb}",
            )
            words.insert(0, verb)
        if not words:
            return step.done(False)
        return step.done(True, ", ".join(words))
