"""The executor seam of the group engine: where each host's share of a group call runs.

The group engine (`Group._engine`) decides everything global: which hosts start when
(concurrency, batches), when to stop (max_failures, fail_fast), Ctrl-C. For each host it
starts, it either runs the share here, on its own loop (no executor: in-process), or hands a
`HostJob` to a `GroupExecutor`, which runs it elsewhere (a process of a pool, a Ray actor:
`corral.executors`) and streams back the share's events as they happen, then its outcome.

Only plain data travels: a host's settings (`HostSpec`: host string, user, port, inventory
vars, config data; never a live Connection), what to do (`Operation`: run/sudo/put/get, a task
by its corralfile path and name) and, back, event dicts (`Event.to_dict()`) and the outcome
(`to_wire`: a Result without its connection, an error as its type, message and fields).
"""

from __future__ import annotations

import builtins
import dataclasses
import importlib
import pickle
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..config import Config, Secret
from ..errors import ConfigError, RemoteError
from ..result import Result, TransferResult
from ..transport.hoststring import parse_host_string
from ..transport.sshconfig import HostConfig, Stamps, file_stamps, prime
from ..transport.target import ssh_config_paths
from .connection import Connection

#: Operations a worker knows: a Connection method, a task of a corralfile, a module-level
#: function (pickled by reference), or "dry" (no SSH: a Result made up, for benchmarks).
KINDS = ("run", "sudo", "put", "get", "facts", "task", "call", "dry")
#: Called with each event dict of a host's share as it happens.
Emit = Callable[[dict[str, Any]], None]


@dataclass(frozen=True)
class HostSpec:
    """One host's settings, as they travel to a worker: everything a Connection is made of."""

    host: str
    hostname: str
    user: str
    port: int
    config: dict[str, Any]
    connect_kwargs: dict[str, Any] = field(default_factory=dict)
    host_vars: dict[str, Any] = field(default_factory=dict)
    connect_timeout: float | None = None
    forward_agent: bool | None = None
    inline_ssh_env: bool | None = None
    #: A ProxyCommand string, or the bastion's own spec.
    gateway: HostSpec | str | None = None
    #: Where the host should be run from (its placement var's value, e.g. "eu"), or None.
    placement: str | None = None
    #: What the caller read from its ssh_config files for the host, and those files' stamps:
    #: a worker that has the very same files uses it instead of parsing them again.
    ssh_config: HostConfig | None = None
    ssh_stamps: Stamps = ()

    @classmethod
    def of(cls, conn: Connection, placement_var: str | None = None) -> HostSpec:
        """Return the spec of a (not necessarily open) Connection."""
        gateway: HostSpec | str | None
        if isinstance(conn.gateway, Connection):
            gateway = cls.of(conn.gateway)
        elif conn.gateway is None or isinstance(conn.gateway, str):
            gateway = conn.gateway
        else:  # a ProxyJump chain of another Link type
            raise ConfigError(
                f"{conn.original_host}: its gateway {conn.gateway!r} cannot travel to a worker; "
                "give it as a Connection or a ProxyCommand string"
            )
        data = conn.config.to_dict()
        data.pop("gateway", None)  # a gateway Connection in config travels as `gateway`
        placed = conn.host_vars.get(placement_var) if placement_var else None
        return cls(
            host=conn.original_host,
            hostname=conn.host,
            user=conn.user,
            port=conn.port,
            config=data,
            connect_kwargs=dict(conn.connect_kwargs),
            host_vars=dict(conn.host_vars),
            connect_timeout=conn.connect_timeout,
            forward_agent=conn.forward_agent,
            inline_ssh_env=conn.inline_ssh_env,
            gateway=gateway,
            placement=str(placed) if placed not in (None, "") else None,
            ssh_config=conn.ssh_config,
            ssh_stamps=file_stamps(ssh_config_paths(conn.config)),
        )

    def connection(self, overrides: Mapping[str, Any] | None = None) -> Connection:
        """Make the host's Connection on a worker (config `overrides`: the node's own)."""
        config = Config.from_levels([("defaults", self.config)])
        if overrides:
            config.merge(dict(overrides))
        if self.ssh_config is not None and self.ssh_stamps:
            stamps = file_stamps(ssh_config_paths(config))
            if stamps == self.ssh_stamps:  # the same files: the caller's reading of them
                user = str(config.get("user") or "root")
                prime(parse_host_string(self.host).host, stamps, user, self.ssh_config)
        gateway: Connection | str | None = (
            self.gateway.connection(overrides)
            if isinstance(self.gateway, HostSpec)
            else self.gateway
        )
        return Connection(
            self.host,
            user=self.user,
            port=self.port,
            config=config,
            gateway=gateway,
            forward_agent=self.forward_agent,
            connect_timeout=self.connect_timeout,
            connect_kwargs=self.connect_kwargs,
            inline_ssh_env=self.inline_ssh_env,
            hostname=self.hostname,
            host_vars=self.host_vars,
        )


@dataclass(frozen=True)
class Operation:
    """What a host's share does: `kind` (see KINDS) with its arguments."""

    kind: str
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    #: For a "task": the corralfile it is loaded from (the worker imports it).
    source: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"operation {self.kind!r}: expected one of {', '.join(KINDS)}")

    def check_travels(self) -> None:
        """Raise ConfigError when the operation's arguments cannot be sent to a worker."""
        try:
            pickle.dumps((self.args, self.kwargs))
        except Exception as exc:
            raise ConfigError(
                f"{self.kind}: its arguments cannot be sent to a worker ({exc}); other "
                "executors than the in-process one take paths and plain values (no open "
                "files, closures or connections)"
            ) from exc


@dataclass(frozen=True)
class HostJob:
    """One host's share of a group call, as a worker receives it."""

    spec: HostSpec
    operation: Operation
    #: The worker-side limits: connect retries, host timeout (global limits stay here).
    connect_retries: int = 3
    host_timeout: float | None = None
    #: The run the events belong to (None: the caller records nothing), and what to mask.
    run_id: str | None = None
    secrets: tuple[Secret, ...] = ()
    #: Whether the caller shows the output as `[host] ` lines (else the whole call's).
    prefixed: bool = False


class GroupExecutor(Protocol):
    """Runs hosts' shares of group calls somewhere else than the caller's loop."""

    #: How the executor is named in messages and run settings ("pool", "ray").
    name: str

    async def start(self, specs: Sequence[HostSpec]) -> None:
        """Get ready to run these hosts (workers started, cluster reached, placement checked);
        raise ExecutorError before anything starts when it cannot."""
        ...

    async def run(self, job: HostJob, emit: Emit) -> Any:
        """Run one host's share; call `emit` with its event dicts as they happen; return its
        outcome in wire form (`to_wire`). Cancelled (Ctrl-C), stop the host's commands and
        raise `Interrupted` with the outcome the worker reported."""
        ...

    async def close(self) -> None:
        """Stop the workers this executor started."""
        ...


class Interrupted(Exception):
    """Raised by `GroupExecutor.run` when cancelled: `outcome` is what the worker said (its
    `CommandInterrupted`, with the command's partial output), or None."""

    def __init__(self, outcome: Any) -> None:
        super().__init__("interrupted")
        self.outcome = outcome


# ---------------------------------------------------------------------- outcomes on the wire

_ERROR = "__corral_error__"


def to_wire(value: Any) -> Any:
    """Return a host's outcome as data that travels: Results without their connection, an
    error as {type, args, fields}, containers item by item, anything else as it is."""
    if isinstance(value, Result | TransferResult):
        return dataclasses.replace(value, connection=None)
    if isinstance(value, BaseException):
        cls = type(value)
        fields = {
            key: to_wire(item)
            for key, item in vars(value).items()
            if not key.startswith("_") and _travels(item)
        }
        return {
            _ERROR: f"{cls.__module__}:{cls.__qualname__}",
            "args": [a if isinstance(a, str | int | float) else str(a) for a in value.args],
            "message": str(value),
            "fields": fields,
        }
    if isinstance(value, list | tuple):
        return type(value)(to_wire(item) for item in value)
    if isinstance(value, dict):
        return {key: to_wire(item) for key, item in value.items()}
    return value


def _travels(value: Any) -> bool:
    try:
        pickle.dumps(to_wire(value))
    except Exception:
        return False
    return True


def from_wire(data: Any, connection: Connection | None = None, host: str = "") -> Any:
    """Rebuild an outcome from `to_wire` data; Results get `connection` back."""
    if isinstance(data, Result | TransferResult):
        return dataclasses.replace(data, connection=connection)
    if isinstance(data, dict) and _ERROR in data:
        return _error(data, connection, host)
    if isinstance(data, list | tuple):
        return type(data)(from_wire(item, connection, host) for item in data)
    if isinstance(data, dict):
        return {key: from_wire(item, connection, host) for key, item in data.items()}
    return data


def _error(data: Mapping[str, Any], connection: Connection | None, host: str) -> BaseException:
    module, _, name = str(data[_ERROR]).partition(":")
    cls: Any = None
    if module == "builtins":
        cls = getattr(builtins, name, None)
    elif module.startswith("corral.") or module == "corral":
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            cls = None
    if not (isinstance(cls, type) and issubclass(cls, BaseException)):
        return RemoteError(
            host, f"{name}: {data.get('message', '')}", error_type=name.rpartition(".")[2]
        )
    error = cls.__new__(cls)
    BaseException.__init__(error, *data.get("args", ()))
    for key, value in dict(data.get("fields", {})).items():
        try:
            setattr(error, key, from_wire(value, connection, host))
        except AttributeError:
            pass
    return error
