"""`line` and `block`: edit part of a file (Ansible's lineinfile and blockinfile). The file
is read in the probe, edited here, and written back atomically only when it changed."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

from ..errors import StateConflictError
from .edit import Edit, edit_block, edit_line
from .files import apply_content, attribute_changes, check_path, parse_mode, refuse_conflict
from .result import OpResult
from .step import Step

if TYPE_CHECKING:
    from ..remote.connection import Connection

#: Files larger than this are not edited (read whole, in memory, on each run).
EDIT_LIMIT = 16 << 20


def _check_regexp(step: Step, argument: str, value: str | None) -> None:
    if value is None or value in ("EOF", "BOF"):
        return
    try:
        re.compile(value)
    except re.error as exc:
        raise step.argument_error(
            argument, f"{value!r} is not a regular expression: {exc}"
        ) from None


async def _edit(
    step: Step,
    path: str,
    edit: Callable[[bytes], Edit],
    *,
    create: bool,
    owner: str | None,
    group: str | None,
    mode: int | None,
    backup: bool,
    validate: str | None,
    nothing_to_remove: bool,
) -> OpResult:
    """Read the file in one probe, apply `edit`, and write it back if it changed."""
    state = await step.path_state(path, content="always", limit=EDIT_LIMIT)
    refuse_conflict(step, state, "file")
    if not state.exists:
        if nothing_to_remove:
            return step.done(False)
        if not create:
            raise step.error(
                StateConflictError,
                "path",
                f"{path} does not exist; pass create=True to create it",
            )
    if state.exists and state.content is None:
        raise step.error(
            StateConflictError, "path", f"{path} is larger than {EDIT_LIMIT >> 20} MiB to edit"
        )
    before = state.content or b""
    result = edit(before)
    if not result.changed(before) and state.exists:
        changes = attribute_changes(state, owner, group, mode)
        if not changes:
            return step.done(False)
    return await apply_content(
        step, path, state, result.content, owner=owner, group=group, mode=mode,
        backup=backup, validate=validate, change_message=result.message or "change content",
    )  # fmt: skip


async def line(
    conn: Connection,
    path: str,
    line: str | None = None,
    *,
    state: Literal["present", "absent"] = "present",
    regexp: str | None = None,
    after: str | None = None,
    before: str | None = None,
    firstmatch: bool = False,
    create: bool = False,
    owner: str | None = None,
    group: str | None = None,
    mode: int | str | None = None,
    backup: bool = False,
    validate: str | None = None,
    sudo: bool = False,
    check: bool | None = None,
    notify: Any = None,
) -> OpResult:
    """Make sure a line is in a file (or not), as Ansible's lineinfile does.

    present: the last line matching `regexp` becomes `line`; if none matches and `line` is
    not there yet, it is inserted after the last line matching `after` (or before the one
    matching `before`; "BOF"/"EOF" mean the ends), else at the end. absent: every line
    matching `regexp` (or equal to `line`) is removed.
    """
    step = Step(conn, "line", str(path), sudo=sudo, check=check, notify=notify)
    async with step:
        check_path(step, path)
        if state not in ("present", "absent"):
            raise step.argument_error("state", f"must be 'present' or 'absent', not {state!r}")
        if state == "present" and line is None:
            raise step.argument_error("line", "state='present' needs the line to put there")
        if state == "absent" and line is None and regexp is None:
            raise step.argument_error("regexp", "state='absent' needs line= or regexp=")
        if after is not None and before is not None:
            raise step.argument_error("before", "give after= or before=, not both")
        if line is not None and ("\n" in line or "\r" in line):
            raise step.argument_error("line", f"{line!r} holds a line break (use block)")
        for name, value in (("regexp", regexp), ("after", after), ("before", before)):
            _check_regexp(step, name, value)
        wanted = parse_mode(step, mode)
        if step.dry:
            return step.dry_run()

        def edit(data: bytes) -> Edit:
            return edit_line(
                data, line, state=state, regexp=regexp, after=after, before=before,
                firstmatch=firstmatch,
            )  # fmt: skip

        return await _edit(
            step, path, edit, create=create, owner=owner, group=group, mode=wanted,
            backup=backup, validate=validate, nothing_to_remove=state == "absent",
        )  # fmt: skip


async def block(
    conn: Connection,
    path: str,
    block: str = "",
    *,
    state: Literal["present", "absent"] = "present",
    marker: str = "# {mark} CORRAL MANAGED BLOCK",
    after: str | None = None,
    before: str | None = None,
    create: bool = False,
    owner: str | None = None,
    group: str | None = None,
    mode: int | str | None = None,
    backup: bool = False,
    validate: str | None = None,
    sudo: bool = False,
    check: bool | None = None,
    notify: Any = None,
) -> OpResult:
    """Make sure a block of lines, between marker lines, is in a file (or not).

    The markers are `marker` with {mark} replaced by BEGIN and END; give each block of a
    file its own marker. An existing block is replaced where it is; a new one goes after
    `after` (or before `before`), else at the end. An empty block is removed.
    """
    step = Step(conn, "block", str(path), sudo=sudo, check=check, notify=notify)
    async with step:
        check_path(step, path)
        if state not in ("present", "absent"):
            raise step.argument_error("state", f"must be 'present' or 'absent', not {state!r}")
        if "{mark}" not in marker or "\n" in marker:
            raise step.argument_error("marker", f"{marker!r} must be one line holding {{mark}}")
        if after is not None and before is not None:
            raise step.argument_error("before", "give after= or before=, not both")
        for name, value in (("after", after), ("before", before)):
            _check_regexp(step, name, value)
        wanted = parse_mode(step, mode)
        if step.dry:
            return step.dry_run()

        def edit(data: bytes) -> Edit:
            return edit_block(data, block, state=state, marker=marker, after=after, before=before)

        return await _edit(
            step, path, edit, create=create, owner=owner, group=group, mode=wanted,
            backup=backup, validate=validate,
            nothing_to_remove=state == "absent" or not block.strip(),
        )  # fmt: skip
