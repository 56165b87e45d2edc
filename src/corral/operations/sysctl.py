"""`sysctl`: a kernel parameter set now (`sysctl -w`) and kept across reboots (a line in a
file of /etc/sysctl.d)."""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING, Any, Literal

from .edit import edit_line
from .files import change_content, check_path
from .result import OpResult
from .step import Step

if TYPE_CHECKING:
    from ..remote.connection import Connection

DEFAULT_FILE = "/etc/sysctl.d/99-corral.conf"
_KEY = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_./*-]*\Z")
MISSING = "corral:nokey"


def normalize(value: object) -> str:
    """Return a sysctl value with its whitespace made single spaces (`4096\\t87380` ...)."""
    return " ".join(str(value).split())


async def sysctl(
    conn: Connection,
    name: str,
    value: str | int | None = None,
    *,
    state: Literal["present", "absent"] = "present",
    persist: bool = True,
    file: str = DEFAULT_FILE,
    sudo: bool = False,
    check: bool | None = None,
    notify: Any = None,
) -> OpResult:
    """Set a kernel parameter now and (with `persist`) in `file` for the next boot.

    state="absent" removes the parameter's line from `file` (the running value stays).
    """
    step = Step(conn, "sysctl", str(name), sudo=sudo, check=check, notify=notify)
    async with step:
        if not isinstance(name, str) or not _KEY.match(name):
            raise step.argument_error("name", f"{name!r} is not a sysctl key")
        if state not in ("present", "absent"):
            raise step.argument_error("state", f"must be 'present' or 'absent', not {state!r}")
        if state == "present" and (value is None or "\n" in str(value) or not str(value)):
            raise step.argument_error("value", f"{value!r} is not a value to set")
        if state == "absent" and value is not None:
            raise step.argument_error("value", "state='absent' takes no value")
        check_path(step, file, "file")
        if step.dry:
            return step.dry_run()
        wanted = normalize(value) if value is not None else ""
        key = shlex.quote(name)
        result = await step.probe(
            f"v=$(sysctl -n -- {key} 2>/dev/null) || {{ echo {MISSING}; exit 0; }}; "
            'printf "value %s\\n" "$v"',
            describe=f"sysctl -n {name}",
        )
        if result.stdout.strip() == MISSING:
            raise step.argument_error("name", f"the kernel of the host has no {name}")
        live = normalize(result.stdout.partition("value ")[2])
        words: list[str] = []
        diff = None
        if state == "present" and live != wanted:
            await step.change(
                f"sysctl -q -w -- {shlex.quote(f'{name}={wanted}')}",
                argument="value",
                describe=f"sysctl -w {name}={wanted}",
                what=f"the kernel refused {name}={wanted}",
            )
            words.append(f"set {live} -> {wanted}")
        if persist or state == "absent":
            found = await step.path_state(file, content="always")
            line = f"{name} = {wanted}" if state == "present" else None
            before = found.content or b""
            edit = edit_line(before, line, state=state, regexp=rf"^\s*{re.escape(name)}\s*=")
            if edit.changed(before) and (found.exists or state == "present"):
                changed, diff = await change_content(
                    step, file, found, edit.content, mode=0o644 if not found.exists else None,
                    argument="file", change_message=f"{edit.message} of {file}",
                )  # fmt: skip
                words += [f"create {file}" if w == "create" else w for w in changed]
        return step.done(bool(words), ", ".join(words), diff)
