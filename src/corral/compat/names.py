"""What corral offers for each name and module a fabfile imports from Fabric, Invoke and
patchwork, and what it does differently: the table `shims` and `doctor` share."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: Each package a fabfile may import, and the corral package that stands in for it.
STAND_INS = {"fabric": "corral", "invoke": "corral", "patchwork": "corral.patchwork"}

#: The submodules corral has for each package (`fabric.connection` is `corral.connection`).
SUBMODULES = {
    "fabric": frozenset(
        {"config", "connection", "exceptions", "executor", "group", "main", "runners", "tasks"}
        | {"transfer", "util"}
    ),
    "invoke": frozenset(
        {"collection", "config", "context", "exceptions", "executor", "loader", "main"}
        | {"parser", "program", "runners", "tasks", "terminals", "util", "watchers"}
    ),
    "patchwork": frozenset({"environment", "files", "info", "packages", "transfers", "util"}),
}

Status = Literal["differs", "unsupported"]


@dataclass(frozen=True)
class Note:
    """How corral treats a module, a name or a use: it `differs`, or is `unsupported`."""

    status: Status
    text: str


FABRIC_1 = Note(
    "unsupported",
    "Fabric 1's API; corral follows Fabric 2 and later (tasks take a Connection `c`: "
    "c.run, c.put; hosts with -H or @task(hosts=...))",
)

#: Modules without a corral twin, by prefix (the longest prefix that matches wins).
MODULES: dict[str, Note] = {
    "fabric.api": FABRIC_1,
    "fabric.operations": FABRIC_1,
    "fabric.context_managers": FABRIC_1,
    "fabric.contrib": FABRIC_1,
    "fabric.decorators": FABRIC_1,
    "fabric.state": FABRIC_1,
    "fabric.colors": FABRIC_1,
    "fabric.network": FABRIC_1,
    "fabric.utils": FABRIC_1,
    "fabric.testing": Note(
        "unsupported",
        "Fabric's test doubles (MockRemote, MockSFTP) are not in corral; corral.testing has "
        "MockContext and a throwaway fleet of real SSH hosts",
    ),
    "fabric.tunnels": Note(
        "unsupported", "use c.forward_local() and c.forward_remote() for tunnels"
    ),
    "fabric.auth": Note(
        "unsupported",
        "Fabric's auth strategies are paramiko's; corral authenticates with keys, the agent "
        "and connect_kwargs password/passphrase",
    ),
    "invoke.vendor": Note(
        "unsupported", "Invoke's vendored libraries are not in corral: import them directly"
    ),
    "invoke.env": Note("unsupported", "Invoke's Environment loader is not in corral"),
    "paramiko": Note(
        "differs",
        "corral runs on asyncssh, not paramiko: paramiko objects (SSHClient, PKey, policies) "
        "do not reach it; host key policy: --host-key-policy or config host_key_policy",
    ),
}

#: Imported names corral treats differently, or not at all.
NAMES: dict[str, Note] = {
    "ConnectionCall": Note(
        "unsupported",
        "corral's Executor makes each host's Connection; override Executor.normalize_hosts "
        "to choose hosts and their settings",
    ),
    "Runner": Note("unsupported", "no runner classes: use c.run() or corral.run()"),
    "Local": Note("unsupported", "no runner classes: use c.run() or corral.run()"),
    "Remote": Note("unsupported", "no runner classes: use c.run()"),
    "RemoteShell": Note("unsupported", "no runner classes: use c.shell()"),
    "Parser": Note("unsupported", "corral parses with click; add options with Program.core_args"),
    "FilesystemLoader": Note(
        "unsupported", "corral finds the fabfile itself (corralfile.py, else fabfile.py; -c, -r)"
    ),
    "ThreadingGroup": Note(
        "differs",
        "runs on corral's async engine, not threads: with several hosts, live output comes as "
        "[host] lines; results and GroupException as in Fabric",
    ),
    "Group": Note(
        "differs", "with several hosts, live output comes as [host] lines (Fabric interleaves)"
    ),
    "SerialGroup": Note(
        "differs", "with several hosts, live output comes as [host] lines (Fabric interleaves)"
    ),
    "Config": Note(
        "differs",
        "Config() reads no file unless asked (Fabric's loads ~/.fabric.yaml and "
        "/etc/fabric.yaml); Config(lazy=False) or config.load_user() reads them",
    ),
    "ThreadException": Note("differs", "corral raises GroupException where workers failed"),
    "distro_name": Note(
        "differs",
        "reads /etc/os-release (ubuntu, debian, rhel, centos, fedora); patchwork 1.0 knew "
        "only Fedora's and CentOS's release files and said other for the rest",
    ),
    "distro_family": Note(
        "differs",
        "from /etc/os-release: debian or redhat for their members (patchwork 1.0: other)",
    ),
    "rsync": Note(
        "differs",
        "patchwork's rsync runs corral's c.rsync (the connection's keys, known_hosts and "
        "gateways) and returns an RsyncResult, not the local command's Result",
    ),
    "PlatformError": Note("differs", "never raised by corral (an alias of CorralError)"),
    "SubprocessPipeError": Note("differs", "never raised by corral (an alias of CorralError)"),
}

#: Attributes and methods used on objects (c.client, ...), by name.
ATTRIBUTES: dict[str, Note] = {
    "client": Note(
        "unsupported",
        "Connection.client is paramiko's SSHClient in Fabric: corral raises UnsupportedError "
        "naming what to use (host keys: --host-key-policy; files: c.sftp(); tunnels: "
        "c.forward_local())",
    ),
    "transport": Note(
        "unsupported",
        "Connection.transport is paramiko's Transport in Fabric: corral raises "
        "UnsupportedError naming what to use (keepalives: config keepalive.interval)",
    ),
    "set_missing_host_key_policy": Note(
        "unsupported",
        "paramiko's host key policy: use --host-key-policy accept-new (or config "
        "host_key_policy) instead",
    ),
    "sftp": Note(
        "differs",
        "c.sftp() is corral's SFTP client with paramiko's method names (listdir, stat, open, "
        "put, get, ...); its put writes in place, c.put() atomically",
    ),
    "create_session": Note("unsupported", "paramiko's channels are not exposed: use c.run()"),
    "open_gateway": Note("unsupported", "gateways are opened by corral: gateway=Connection(...)"),
    "from_v1": Note("unsupported", "Fabric 1's env cannot be converted: write a Config"),
    "load_overrides": Note(
        "differs",
        "config.load_overrides() adds to the overrides before it (the command line's "
        "included); Invoke's replaces them",
    ),
    "parameterize": Note(
        "unsupported",
        "corral's Executor does not call parameterize: override normalize_hosts to choose "
        "each host's Connection settings",
    ),
}

#: Methods a Program (Fab) subclass may override in corral; others are not called.
PROGRAM_HOOKS = frozenset({"core_args", "update_config", "print_version", "__init__"})
#: Methods an Executor subclass may override in corral.
EXECUTOR_HOOKS = frozenset({"normalize_hosts", "expand_calls", "dedupe", "__init__"})
