"""Idempotent operations (`corral.ops`; these are the `corral.aio.ops` twins): each describes
a state on one host, reads the host in one probe, changes only what differs, and returns an
`OpResult` (changed, ok, message, diff, the commands it ran). In check mode (`--check`,
`check=True`) nothing changes and each says what it would do.
"""

from .accounts import group, user
from .cron import cron
from .files import absent, directory, file, symlink, template
from .git import git
from .handlers import Handler, flush_handlers, handler, handlers
from .lines import block, line
from .packages import package
from .recap import Recap, recap_json, render_recap
from .result import OpResult
from .services import service
from .sysctl import sysctl
from .tree import copy_tree

__all__ = [
    "Handler",
    "OpResult",
    "Recap",
    "absent",
    "block",
    "copy_tree",
    "cron",
    "directory",
    "file",
    "flush_handlers",
    "git",
    "group",
    "handler",
    "handlers",
    "line",
    "package",
    "recap_json",
    "render_recap",
    "service",
    "symlink",
    "sysctl",
    "template",
    "user",
]
