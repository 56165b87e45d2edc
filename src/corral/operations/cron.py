"""`cron`: a named entry in a user's crontab (`crontab -l` / `crontab -`), or in a file of
/etc/cron.d. The entry is the line after a `# corral: NAME` marker, as Ansible marks its
entries with `#Ansible: NAME`."""

from __future__ import annotations

import posixpath
import re
import shlex
from typing import TYPE_CHECKING, Any, Literal

from ..errors import StateConflictError
from .diff import file_diff
from .edit import Edit
from .files import apply_content, check_path
from .result import OpResult
from .step import Step

if TYPE_CHECKING:
    from ..remote.connection import Connection

MARK = "# corral: "
MISSING = "corral:missing"
SPECIAL = ("reboot", "yearly", "annually", "monthly", "weekly", "daily", "hourly")
_FIELD = re.compile(r"[0-9A-Za-z*/,-]+\Z")


def cron_line(
    job: str,
    *,
    minute: str = "*",
    hour: str = "*",
    day: str = "*",
    month: str = "*",
    weekday: str = "*",
    special_time: str | None = None,
    user: str | None = None,
    disabled: bool = False,
) -> str:
    """Return an entry's line (`user` only for /etc/cron.d files)."""
    when = f"@{special_time}" if special_time else f"{minute} {hour} {day} {month} {weekday}"
    line = f"{when} {user} {job}" if user else f"{when} {job}"
    return f"#{line}" if disabled else line


def edit_cron(data: bytes, name: str, line: str | None) -> Edit:
    """Put a named entry in a crontab's text (None: remove it). Pure."""
    lines = data.decode("utf-8", "surrogateescape").splitlines()
    marker = f"{MARK}{name}"
    if marker in lines:
        index = lines.index(marker)
        has_job = index + 1 < len(lines) and not lines[index + 1].startswith(MARK)
        end = index + (2 if has_job else 1)
        if line is None:
            out = lines[:index] + lines[end:]
            message = "remove entry"
        elif has_job and lines[index + 1] == line:
            return Edit(data, "")
        else:
            out = [*lines[:index], marker, line, *lines[end:]]
            message = "update entry"
    elif line is None:
        return Edit(data, "")
    else:
        out = [*lines, marker, line]
        message = "add entry"
    text = "\n".join(out) + ("\n" if out else "")
    return Edit(text.encode("utf-8", "surrogateescape"), message)


async def cron(
    conn: Connection,
    name: str,
    job: str | None = None,
    *,
    state: Literal["present", "absent"] = "present",
    minute: str = "*",
    hour: str = "*",
    day: str = "*",
    month: str = "*",
    weekday: str = "*",
    special_time: str | None = None,
    user: str | None = None,
    disabled: bool = False,
    cron_file: str | None = None,
    sudo: bool = False,
    check: bool | None = None,
    notify: Any = None,
) -> OpResult:
    """Make a named cron entry present (running `job` at this time) or absent.

    The entry goes in `user`'s crontab (the login user's by default; another user's needs
    sudo), or, with `cron_file`, in that file of /etc/cron.d (running as `user`, root by
    default). `special_time` is reboot, hourly, daily, weekly, monthly or yearly.
    """
    step = Step(conn, "cron", str(name), sudo=sudo, check=check, notify=notify)
    async with step:
        if not isinstance(name, str) or not name.strip() or "\n" in name:
            raise step.argument_error("name", f"{name!r} is not an entry name")
        if state not in ("present", "absent"):
            raise step.argument_error("state", f"must be 'present' or 'absent', not {state!r}")
        if state == "present" and not job:
            raise step.argument_error("job", "state='present' needs the job to run")
        if job is not None and "\n" in job:
            raise step.argument_error("job", f"{job!r} holds a line break")
        if special_time is not None:
            if special_time not in SPECIAL:
                raise step.argument_error(
                    "special_time", f"{special_time!r} is not one of {', '.join(SPECIAL)}"
                )
            if (minute, hour, day, month, weekday) != ("*",) * 5:
                raise step.argument_error(
                    "special_time", "give special_time= or minute/hour/day/month/weekday"
                )
        for field, value in (("minute", minute), ("hour", hour), ("day", day),
                             ("month", month), ("weekday", weekday)):  # fmt: skip
            if not isinstance(value, str | int) or not _FIELD.match(str(value)):
                raise step.argument_error(field, f"{value!r} is not a cron time field")
        if step.dry:
            return step.dry_run()
        entry = None
        if state == "present":
            assert job is not None
            entry = cron_line(
                job, minute=str(minute), hour=str(hour), day=str(day), month=str(month),
                weekday=str(weekday), special_time=special_time,
                user=(user or "root") if cron_file else None, disabled=disabled,
            )  # fmt: skip
        if cron_file is not None:
            path = cron_file if "/" in cron_file else posixpath.join("/etc/cron.d", cron_file)
            check_path(step, path, "cron_file")
            state_ = await step.path_state(path, content="always")
            if not state_.exists and entry is None:
                return step.done(False)
            before = state_.content or b""
            edit = edit_cron(before, name, entry)
            if not edit.changed(before):
                return step.done(False)
            return await apply_content(
                step, path, state_, edit.content, mode=0o644 if not state_.exists else None,
                change_message=edit.message, argument="cron_file",
            )  # fmt: skip
        who = ["-u", user] if user else []
        listing = await step.probe(
            f"command -v crontab >/dev/null 2>&1 || {{ echo {MISSING}; exit 0; }}; echo ok; "
            f"crontab {shlex.join(who)} -l 2>/dev/null || :",
            describe=f"crontab {shlex.join(who)} -l".replace("  ", " "),
        )
        head, _, body = listing.stdout_bytes.partition(b"\n")
        if head.strip() != b"ok":
            raise step.error(
                StateConflictError,
                "name",
                "crontab is not installed on the host (install cron first, e.g. with ops.package)",
            )
        edit = edit_cron(body, name, entry)
        if not edit.changed(body):
            return step.done(False)
        diff = file_diff(f"{step.host}:crontab({user or conn.user})", body, edit.content)
        await step.change(
            f"crontab {shlex.join(who)} -",
            argument="user" if user else "job",
            describe=f"crontab {shlex.join(who)} - ({edit.message})".replace("  ", " "),
            data=edit.content,
            what="crontab refused the new table",
        )
        return step.done(True, edit.message, diff)
