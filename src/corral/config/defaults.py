"""corral's built-in configuration: the lowest level of every Config."""

from __future__ import annotations

import getpass
from typing import Any

#: Dotted keys whose values are secrets: masked in every repr and dump.
SECRET_KEYS = frozenset({"sudo.password", "connect_kwargs.password", "connect_kwargs.passphrase"})


def _local_user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (containers) and no USER variable
        return "root"


def global_defaults() -> dict[str, Any]:
    """Return a fresh copy of corral's defaults (Fabric-compatible key names)."""
    return {
        "run": {
            "echo": False,
            "echo_format": "\033[1;37m{command}\033[0m",
            "hide": None,
            "warn": False,
            "pty": False,
            "env": {},
            "replace_env": False,
            "encoding": None,
            "in_stream": None,
            "out_stream": None,
            "err_stream": None,
            "watchers": [],
            "shell": "/bin/bash",
            # Bytes of each stream kept in Result when output also goes to a caller's stream.
            "capture_limit": 1 << 20,
            # Print each command instead of running it (`corral --dry`).
            "dry": False,
        },
        "timeouts": {"connect": 10, "command": None},
        "connect_kwargs": {},
        "user": _local_user(),
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
        # Inventory sources (paths relative to the project, "@ssh_config", "pkg.mod:function"),
        # a hook's module path, and how long a dynamic inventory script may take.
        "inventory": {"sources": [], "hook": None, "script_timeout": 30},
    }
