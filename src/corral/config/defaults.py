"""corral's built-in configuration: the lowest level of every Config."""

from __future__ import annotations

import getpass
from typing import Any

from .run import run_section_defaults

#: Dotted keys whose values are secrets: masked in every repr and dump (a journal URL may
#: hold a database password: postgresql://user:password@host/db).
SECRET_KEYS = frozenset(
    {"sudo.password", "connect_kwargs.password", "connect_kwargs.passphrase", "journal.url"}
)


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
        # Run commands in one long-lived shell per connection (opt-in; see README).
        "persistent_session": False,
        "load_ssh_configs": True,
        "ssh_config_path": None,
        "user_ssh_path": "~/.ssh/config",
        "system_ssh_path": "/etc/ssh/ssh_config",
        # None: follow StrictHostKeyChecking from ssh_config, else "strict".
        "host_key_policy": None,
        "keepalive": {"interval": 15, "count_max": 3},
        # Channels open at once on one connection (sshd's MaxSessions defaults to 10).
        "max_sessions": 10,
        # The local address connections leave from (OpenSSH's BindAddress), or None.
        "bind_address": None,
        # Where a group's hosts run (corral.executors): in this process ("local"), in a pool
        # of `workers` processes on this machine ("pool"), or on a Ray cluster ("ray") at
        # `ray_address` ("auto": the local cluster), hosts placed by their `placement` var
        # (region=eu -> Ray resource region_eu; None: anywhere).
        "executor": {
            "kind": "local",
            "workers": 2,
            "ray_address": "auto",
            "placement": "region",
            "shards": None,
        },
        "sudo": {"password": None, "prompt": None, "user": None},
        # The run journal (corral.journal): every run's hosts, outcomes and output tails.
        "journal": {
            "enabled": True,
            # None: $XDG_STATE_HOME/corral/journal.db (~/.local/state/corral/journal.db)
            "path": None,
            # A database URL instead of the file, e.g. postgresql+psycopg://corral@db/corral
            "url": None,
            "tail_lines": 200,  # last lines of output kept per host ...
            "tail_bytes": 65536,  # ... and at most this many bytes of them
            "retention_days": 90,  # runs older than this are pruned (at most once a day)
            "busy_timeout": 5.0,  # seconds to wait for another writer's lock
        },
        # Inventory sources (paths relative to the project, "@ssh_config", "pkg.mod:function"),
        # a hook's module path, and how long a dynamic inventory script may take.
        "inventory": {"sources": [], "hook": None, "script_timeout": 30},
        # Invoke's: run a pre- or post-task asked for twice once (--no-dedupe: each time)
        "tasks": {"dedupe": True},
    }
