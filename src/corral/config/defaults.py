"""corral's built-in configuration: the lowest level of every Config."""

from __future__ import annotations

import getpass
from typing import Any

from .run import run_section_defaults

#: Dotted keys whose values are secrets: masked in every repr and dump.
SECRET_KEYS = frozenset({"sudo.password", "connect_kwargs.password", "connect_kwargs.passphrase"})


def local_user() -> str:
    """Return the name of the user running corral (root when it cannot be told)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers) and no USER variable
        return "root"


def global_defaults() -> dict[str, Any]:
    """Return a fresh copy of corral's defaults (Fabric-compatible key names)."""
    return {
        "run": run_section_defaults(),
        "timeouts": {"connect": 10, "command": None},
        "connect_kwargs": {},
        "user": local_user(),
        "port": 22,
        "forward_agent": False,
        "gateway": None,
        "inline_ssh_env": True,
        "load_ssh_configs": True,
        "ssh_config_path": None,
        "user_ssh_path": "~/.ssh/config",
        "system_ssh_path": "/etc/ssh/ssh_config",
        # None: follow StrictHostKeyChecking from ssh_config, else "strict".
        "host_key_policy": None,
        "keepalive": {"interval": 15, "count_max": 3},
        # Channels open at once on one connection (sshd's MaxSessions defaults to 10).
        "max_sessions": 10,
        "sudo": {"password": None, "prompt": None, "user": None},
        # Invoke's: run a pre- or post-task asked for twice once (--no-dedupe: each time)
        "tasks": {"dedupe": True},
    }
