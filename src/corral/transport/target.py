"""Where and how to connect to one host: settled from the host string, ssh_config and config.

Pure: no sockets. `resolve_host` applies Fabric's order (explicit arguments, then the host
string, then ssh_config, then corral's config) and returns `HostSettings`; `connect_target`
turns those into the `ConnectTarget` the transport opens.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..config import Config, Secret
from ..errors import ConfigError
from .hostkeys import HostKeyVerifier, choose_policy
from .hoststring import HostSpec, parse_host_string, parse_port
from .sshconfig import DEFAULT_GLOBAL_KNOWN_HOSTS, DEFAULT_USER_KNOWN_HOSTS, HostConfig, lookup

#: Fabric's connect_kwargs keys corral understands (paramiko names, mapped onto asyncssh).
CONNECT_KWARGS = frozenset(
    {
        "key_filename",
        "password",
        "passphrase",
        "pkey",
        "allow_agent",
        "look_for_keys",
        "banner_timeout",
        "auth_timeout",
        "timeout",
        "agent_path",
    }
)


@dataclass(frozen=True)
class ConnectTarget:
    """Everything needed to open one SSH connection, settled from arguments and config."""

    label: str  # the host as the user named it
    hostname: str
    port: int
    user: str
    verifier: HostKeyVerifier
    client_keys: Sequence[str] | None = None  # None: asyncssh's defaults (~/.ssh/id_*)
    password: Secret | None = None
    passphrase: Secret | None = None
    agent_path: str | None = None
    use_agent: bool = True
    forward_agent: bool = False
    connect_timeout: float = 10.0
    login_timeout: float | None = None
    keepalive_interval: float = 15.0
    keepalive_count_max: int = 3
    proxy_command: str | None = None
    max_sessions: int = 10
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def where(self) -> str:
        """Return `user@hostname:port` for messages."""
        return f"{self.user}@{self.hostname}:{self.port}"


@dataclass(frozen=True)
class HostSettings:
    """One host's connection settings, with Fabric's order of precedence applied.

    `proxy_jump` (ProxyJump hops, outermost first) and `proxy_command` (a ProxyCommand
    template) come from the config's `gateway` or ssh_config when no gateway Connection was
    given; at most one of them is set.
    """

    original_host: str
    host: str
    user: str
    port: int
    ssh_config: HostConfig
    forward_agent: bool
    connect_timeout: float
    connect_kwargs: Mapping[str, Any]
    inline_ssh_env: bool
    proxy_jump: tuple[str, ...] | None = None
    proxy_command: str | None = None


def ssh_config_paths(config: Config) -> list[str]:
    """Return the ssh_config files a config asks to read (none, one, or user + system)."""
    if not config.get("load_ssh_configs", True):
        return []
    runtime = config.get("ssh_config_path")
    if runtime:
        return [str(runtime)]
    return [str(p) for p in (config.get("user_ssh_path"), config.get("system_ssh_path")) if p]


def expand_proxy_command(
    template: str, host: str, port: int, user: str, alias: str | None = None
) -> str:
    """Expand %h, %p, %r, %n and %% in a ProxyCommand, quoting what is substituted."""
    values = {
        "h": shlex.quote(host),
        "p": str(port),
        "r": shlex.quote(user),
        "n": shlex.quote(alias if alias is not None else host),
        "%": "%",
    }
    out, i = [], 0
    while i < len(template):
        char = template[i]
        if char == "%" and i + 1 < len(template) and template[i + 1] in values:
            out.append(values[template[i + 1]])
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


def _first(*values: Any) -> Any:
    """Return the first value that is not None (None when all are)."""
    return next((value for value in values if value is not None), None)


class ConnectKwargs(dict[str, Any]):
    """Fabric's connect_kwargs, checked as they change: a dict that also takes attributes
    (`c.connect_kwargs.password = pw`); unknown keys are refused, passwords and passphrases
    kept as Secret. `on_change` runs before each change (it may refuse it by raising)."""

    _label: str
    _on_change: Callable[[], None] | None

    def __init__(
        self,
        label: str,
        data: Mapping[str, Any] = (),  # type: ignore[assignment]
        on_change: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(check_connect_kwargs(label, dict(data)))
        object.__setattr__(self, "_label", label)
        object.__setattr__(self, "_on_change", on_change)

    def _changing(self) -> None:
        if self._on_change is not None:
            self._on_change()

    def __getattr__(self, key: str) -> Any:
        if key.startswith("_"):
            raise AttributeError(key)
        return self.get(key)  # Fabric's dict has no attributes: a missing key reads as None

    def __setattr__(self, key: str, value: Any) -> None:
        self[key] = value

    def __setitem__(self, key: str, value: Any) -> None:
        checked = check_connect_kwargs(self._label, {key: value})
        self._changing()
        super().__setitem__(key, checked[key])

    def __delitem__(self, key: str) -> None:
        self._changing()
        super().__delitem__(key)

    def update(self, *args: Any, **kwargs: Any) -> None:
        """Set several keys, each checked."""
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def setdefault(self, key: str, default: Any = None) -> Any:
        """Return the value of `key`, setting it to `default` first when missing."""
        if key not in self:
            self[key] = default
        return self[key]

    def pop(self, key: str, *default: Any) -> Any:
        """Remove `key` and return its value (or `default`)."""
        if key in self:
            self._changing()
        return super().pop(key, *default)

    def clear(self) -> None:
        """Remove every key."""
        self._changing()
        super().clear()

    def __repr__(self) -> str:
        return repr(dict(self))  # secrets are Secret: masked


def check_connect_kwargs(label: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Return connect_kwargs with secrets wrapped; unknown keys are a ConfigError."""
    unknown = set(kwargs) - CONNECT_KWARGS
    if unknown:
        raise ConfigError(
            f"{label}: unknown connect_kwargs {', '.join(sorted(unknown))}; "
            f"corral understands {', '.join(sorted(CONNECT_KWARGS))}"
        )
    checked = dict(kwargs)
    for secret in ("password", "passphrase"):
        if checked.get(secret) is not None:
            checked[secret] = Secret(checked[secret])
    return checked


def resolve_host(
    spec: HostSpec,
    config: Config,
    *,
    user: str | None = None,
    port: int | None = None,
    forward_agent: bool | None = None,
    connect_timeout: float | None = None,
    connect_kwargs: Mapping[str, Any] | None = None,
    inline_ssh_env: bool | None = None,
    gateway: str | None = None,
    has_gateway_connection: bool = False,
    hostname: str | None = None,
) -> HostSettings:
    """Settle a host's settings: arguments, then the host string, ssh_config, then config.

    `gateway` is a ProxyCommand string given as an argument (or "none"); with
    `has_gateway_connection` the caller connects through a Connection of its own, and
    ssh_config's ProxyJump/ProxyCommand are not followed. `hostname` (an inventory's address)
    replaces ssh_config's HostName; the host's name stays its label and ssh_config key.
    """
    raw = spec.host
    if spec.port is not None and port is not None:
        raise ConfigError(f"host {raw!r}: port given both in the host string and as port=")
    if spec.user is not None and user is not None:
        raise ConfigError(f"host {raw!r}: user given both in the host string and as user=")
    local_user = str(config.get("user") or "root")
    ssh = lookup(spec.host, ssh_config_paths(config), local_user=local_user)
    chosen_port = _first(port, spec.port, ssh.port, config.get("port"), 22)
    kwargs = check_connect_kwargs(
        spec.host,
        connect_kwargs if connect_kwargs is not None else config.get("connect_kwargs", {}),
    )
    proxy_jump: tuple[str, ...] | None = None
    proxy_command: str | None = None
    if not has_gateway_connection:
        configured = gateway if gateway is not None else config.get("gateway")
        if isinstance(configured, str) and configured != "none":
            proxy_command = configured  # OpenSSH's "ProxyJump none": connect directly
        elif configured is None and ssh.proxy_jump:
            hops = [part.strip() for part in ssh.proxy_jump.split(",") if part.strip()]
            proxy_jump = tuple(hop.removeprefix("ssh://") for hop in hops)
        elif configured is None and ssh.proxy_command:
            proxy_command = ssh.proxy_command
        elif configured is not None and configured != "none":
            raise ConfigError(
                f"{spec.host}: gateway {configured!r} must be a ProxyCommand string, "
                "'none', or a Connection"
            )
    return HostSettings(
        original_host=spec.host,
        host=parse_host_string(hostname).host if hostname else ssh.hostname,
        user=user or spec.user or ssh.user or local_user,
        port=parse_port(chosen_port, f"host {raw!r}"),
        ssh_config=ssh,
        forward_agent=bool(_first(forward_agent, ssh.forward_agent, config.get("forward_agent"))),
        connect_timeout=float(
            connect_timeout
            if connect_timeout is not None
            else ssh.connect_timeout or config.get("timeouts.connect") or 10
        ),
        connect_kwargs=kwargs,
        inline_ssh_env=bool(_first(inline_ssh_env, config.get("inline_ssh_env"))),
        proxy_jump=proxy_jump,
        proxy_command=proxy_command,
    )


def _client_keys(settings: HostSettings) -> list[str] | None:
    """Return the key files to offer: connect_kwargs, ssh_config, none, or asyncssh's default."""
    kwargs = settings.connect_kwargs
    key_files = kwargs.get("key_filename")
    if isinstance(key_files, str | os.PathLike):
        key_files = [key_files]
    if key_files:
        return [os.path.expanduser(str(p)) for p in key_files]
    if settings.ssh_config.identity_files:
        return [p for p in settings.ssh_config.identity_files if os.path.isfile(p)]
    if kwargs.get("look_for_keys") is False:
        return []
    return None


def host_key_verifier(settings: HostSettings, config: Config) -> HostKeyVerifier:
    """Return the host key verifier for a host: its known_hosts files and policy."""
    ssh = settings.ssh_config
    user_files = ssh.user_known_hosts
    if user_files is None:
        user_files = tuple(os.path.expanduser(p) for p in DEFAULT_USER_KNOWN_HOSTS)
    global_files = ssh.global_known_hosts
    if global_files is None:
        global_files = DEFAULT_GLOBAL_KNOWN_HOSTS
    return HostKeyVerifier(
        label=settings.original_host,
        host=ssh.host_key_alias or settings.host,
        port=settings.port,
        policy=choose_policy(config.get("host_key_policy"), ssh.strict_host_key_checking),
        files=tuple(user_files) + tuple(global_files),
        write_file=user_files[0] if user_files else os.path.expanduser(DEFAULT_USER_KNOWN_HOSTS[0]),
        hash_new=ssh.hash_known_hosts,
    )


def connect_target(settings: HostSettings, config: Config) -> ConnectTarget:
    """Return the ConnectTarget for a host's settings (a ProxyCommand expanded, if any)."""
    ssh = settings.ssh_config
    kwargs = settings.connect_kwargs
    client_keys = _client_keys(settings)
    extra: dict[str, Any] = {}
    if kwargs.get("pkey") is not None:
        extra["client_keys"] = [kwargs["pkey"], *(client_keys or [])]
    bind = config.get("bind_address")
    if bind:
        extra["local_addr"] = (str(bind), 0)
    timeout = float(kwargs.get("timeout") or settings.connect_timeout)
    if kwargs.get("banner_timeout"):
        timeout = max(timeout, float(kwargs["banner_timeout"]))
    keepalive = config.get("keepalive")
    proxy = None
    if settings.proxy_command is not None:
        proxy = expand_proxy_command(
            settings.proxy_command,
            settings.host,
            settings.port,
            settings.user,
            settings.original_host,
        )
    return ConnectTarget(
        label=settings.original_host,
        hostname=settings.host,
        port=settings.port,
        user=settings.user,
        verifier=host_key_verifier(settings, config),
        client_keys=client_keys,
        password=kwargs.get("password"),
        passphrase=kwargs.get("passphrase"),
        agent_path=kwargs.get("agent_path") or ssh.identity_agent,
        use_agent=kwargs.get("allow_agent", True) is not False and not ssh.identities_only,
        forward_agent=settings.forward_agent,
        connect_timeout=timeout,
        login_timeout=kwargs.get("auth_timeout"),
        keepalive_interval=float(
            _first(ssh.server_alive_interval, keepalive.get("interval") if keepalive else None, 15)
        ),
        keepalive_count_max=int(
            _first(ssh.server_alive_count_max, keepalive.get("count_max") if keepalive else None, 3)
        ),
        proxy_command=proxy,
        max_sessions=int(config.get("max_sessions") or 10),
        extra=extra,
    )
