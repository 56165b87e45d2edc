"""corral's idempotent operations, blocking (`corral.aio.ops` has the async twins).

    from corral import ops

    ops.file(c, "/etc/app.conf", content=text, mode=0o644, sudo=True)
    ops.package(c, ["nginx", "curl"], sudo=True)
    ops.service(c, "nginx", state="started", enabled=True, sudo=True)

Each describes a state, reads the host in one probe, changes only what differs and returns
an `OpResult`; with `check=True` (or `corral --check`) nothing changes on any host.
"""

from .sync.operations import (
    Handler,
    OpResult,
    Recap,
    absent,
    block,
    copy_tree,
    cron,
    directory,
    file,
    flush_handlers,
    git,
    group,
    handler,
    handlers,
    line,
    package,
    recap_json,
    render_recap,
    service,
    symlink,
    sysctl,
    template,
    user,
)

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
