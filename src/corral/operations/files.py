"""File operations: `file`, `template`, `directory`, `symlink`, `absent`.

Each reads the path's state in one probe (type, mode, owner, group, checksum; the old
content only when it differs, for the diff) and changes nothing when the state is already
there. Content is written atomically: a temp file beside the target, filled from stdin,
given its owner and mode, validated, then renamed over the target, in one command.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..config.secret import Secret
from ..errors import (
    ContentRejectedError,
    RenderError,
    StateConflictError,
    TemplateError,
    TransferError,
)
from ..remote.transfer import render_template
from ..result import Result
from .diff import file_diff
from .result import OpResult
from .scripts import (
    BACKUP_MARK,
    INVALID,
    INVALID_MARK,
    IS_DIRECTORY,
    NO_DIRECTORY,
    attrs_script,
    directory_script,
    remove_script,
    symlink_script,
    write_script,
)
from .state import PathState
from .step import Step

if TYPE_CHECKING:
    from ..remote.connection import Connection

Content = str | bytes | Secret


# ---------------------------------------------------------------------- arguments


def check_path(step: Step, path: Any, argument: str = "path") -> str:
    """Return `path` if it is a usable remote path; raise OperationArgumentError if not."""
    if not isinstance(path, str) or not path.strip():
        raise step.argument_error(argument, f"must be a non-empty path, not {path!r}")
    if "\0" in path:
        raise step.argument_error(argument, f"{path!r} contains a NUL byte")
    return path


def parse_mode(step: Step, mode: Any, argument: str = "mode") -> int | None:
    """Return a permission mode as a number: 0o644, or an octal string "0644" / "644"."""
    if mode is None:
        return None
    value: int | None = None
    if isinstance(mode, int) and not isinstance(mode, bool):
        value = mode
    elif isinstance(mode, str) and mode.strip().isdigit():
        try:
            value = int(mode.strip(), 8)
        except ValueError:
            value = None
    if value is None or not 0 <= value <= 0o7777:
        raise step.argument_error(
            argument, f"{mode!r} is not a permission mode (give 0o644 or '0644')"
        )
    return value


def content_bytes(content: Content) -> bytes:
    """Return what a file should hold: text as UTF-8, bytes as they are, a Secret revealed."""
    if isinstance(content, Secret):
        return content.reveal().encode("utf-8")
    if isinstance(content, str):
        return content.encode("utf-8")
    return bytes(content)


def read_local(step: Step, src: Any, argument: str = "src") -> bytes:
    """Return a local file's bytes; a missing or unreadable file is an argument error."""
    try:
        path = os.fspath(src)
    except TypeError:
        raise step.argument_error(argument, f"must be a local path, not {src!r}") from None
    if os.path.isdir(path):
        raise step.argument_error(argument, f"{path} is a directory (copy_tree copies trees)")
    try:
        with open(path, "rb") as file:
            return file.read()
    except OSError as exc:
        raise step.argument_error(argument, f"cannot read {path}: {exc.strerror}") from None


def attribute_changes(
    state: PathState, owner: str | None, group: str | None, mode: int | None
) -> list[str]:
    """Return what differs in owner, group and mode (`mode 644 -> 600`), in that order."""
    changes = []
    if owner is not None and not state.owned_by(owner, None):
        changes.append(f"owner {state.owner} -> {owner}")
    if group is not None and not state.owned_by(None, group):
        changes.append(f"group {state.group} -> {group}")
    if mode is not None and state.mode != mode:
        changes.append(f"mode {state.mode or 0:o} -> {mode:o}")
    return changes


def refuse_conflict(step: Step, state: PathState, expected: str, argument: str = "path") -> None:
    """Raise StateConflictError when the path holds something of another kind."""
    if state.type in ("absent", expected):
        return
    found = {
        "dir": "a directory",
        "file": "a regular file",
        "link": f"a symlink to {state.target} that leads nowhere",
        "other": "a special file (a device, socket or FIFO)",
    }[state.type]
    wanted = {"file": "a file", "dir": "a directory", "link": "a symlink"}[expected]
    raise step.error(
        StateConflictError,
        argument,
        f"{state.path} is {found}, where {wanted} is expected; remove it first "
        "(ops.absent) or choose another path",
    )


# ---------------------------------------------------------------------- writing


async def write_content(
    step: Step,
    path: str,
    data: bytes,
    *,
    owner: str | None,
    group: str | None,
    mode: int | None,
    backup: bool,
    validate: str | None,
    argument: str,
) -> str | None:
    """Write `data` to `path` atomically (held in check mode); return the backup's name."""
    script = write_script(
        path, owner=owner, group=group, mode=mode, backup=backup, validate=validate
    )
    result = await step.change(
        script,
        argument=argument,
        describe=f"write {path} ({len(data)} bytes)",
        data=data,
        what=f"writing {path} failed",
        handled=(NO_DIRECTORY, INVALID, IS_DIRECTORY),
    )
    if result is None:
        return None
    _refused(step, result, path, validate)
    for line in result.stdout.splitlines():
        if line.startswith(BACKUP_MARK):
            return line.removeprefix(BACKUP_MARK)
    return None


def _refused(step: Step, result: Result, path: str, validate: str | None) -> None:
    if result.exited == NO_DIRECTORY:
        raise step.error(
            StateConflictError,
            "path",
            f"the directory of {path} does not exist; create it first (ops.directory)",
        )
    if result.exited == IS_DIRECTORY:
        raise step.error(StateConflictError, "path", f"{path} is a directory")
    if result.exited == INVALID and validate is not None:
        marker = result.stderr.rsplit(INVALID_MARK, 1)[-1].split()
        status = marker[0] if marker else "?"
        output = "\n".join(
            line
            for line in (result.stdout + result.stderr).splitlines()
            if not line.startswith(INVALID_MARK)
        ).strip()
        tail = "".join(f"\n    {line}" for line in output.splitlines()[-10:])
        raise ContentRejectedError(
            step.host,
            step.operation,
            "validate",
            f"{validate!r} rejected the new content of {path} (exit status {status}); "
            f"the file was left as it was{tail}",
            result=result,
        )


async def ensure_content(
    step: Step,
    path: str,
    data: bytes | None,
    *,
    owner: str | None = None,
    group: str | None = None,
    mode: int | None = None,
    backup: bool = False,
    validate: str | None = None,
    argument: str = "content",
) -> OpResult:
    """Bring a file to `data` (None: only make sure it exists) with these attributes."""
    want = hashlib.sha256(data).hexdigest() if data is not None else None
    state = await step.path_state(
        path, content="if-different" if data is not None else "never", expected_sha256=want
    )
    return await apply_content(
        step, path, state, data, owner=owner, group=group, mode=mode, backup=backup,
        validate=validate, argument=argument,
    )  # fmt: skip


async def apply_content(
    step: Step,
    path: str,
    state: PathState,
    data: bytes | None,
    *,
    owner: str | None = None,
    group: str | None = None,
    mode: int | None = None,
    backup: bool = False,
    validate: str | None = None,
    argument: str = "content",
    change_message: str = "change content",
) -> OpResult:
    """Bring a file whose state was read to `data` (None: it only has to exist), and report.

    `change_message` says what a content change is (`insert line 3` for an edit)."""
    words, diff = await change_content(
        step, path, state, data, owner=owner, group=group, mode=mode, backup=backup,
        validate=validate, argument=argument, change_message=change_message,
    )  # fmt: skip
    return step.done(bool(words), ", ".join(words), diff)


async def change_content(
    step: Step,
    path: str,
    state: PathState,
    data: bytes | None,
    *,
    owner: str | None = None,
    group: str | None = None,
    mode: int | None = None,
    backup: bool = False,
    validate: str | None = None,
    argument: str = "content",
    change_message: str = "change content",
) -> tuple[list[str], str | None]:
    """Bring a file whose state was read to `data`, without reporting; return what changed
    (no words: nothing) and the diff."""
    refuse_conflict(step, state, "file")
    want = hashlib.sha256(data).hexdigest() if data is not None else None
    if state.content is not None and state.sha256 is None:
        state = dataclasses.replace(state, sha256=hashlib.sha256(state.content).hexdigest())
    label = f"{step.host}:{path}"
    target = state.write_path
    if not state.exists or (data is not None and state.sha256 != want):
        body = data if data is not None else b""
        if state.exists and state.content is None:
            diff = file_diff(label, b"\0(not read: too large)", body, secrets=step.secrets)
        else:
            diff = file_diff(label, state.content if state.exists else None, body,
                             secrets=step.secrets)  # fmt: skip
        backup_name = await write_content(
            step,
            target,
            body,
            owner=owner,
            group=group,
            mode=mode,
            backup=backup and state.exists,
            validate=validate,
            argument=argument,
        )
        if not state.exists:
            return ["create"], diff
        parts = [change_message, *attribute_changes(state, owner, group, mode)]
        if backup_name:
            parts.append(f"backup {backup_name}")
        if validate is not None and step.check:
            parts.append("validate not run in check mode")
        return parts, diff
    changes = attribute_changes(state, owner, group, mode)
    if changes:
        await step.change(
            attrs_script(target, owner=owner, group=group, mode=mode),
            argument="owner" if changes[0].startswith(("owner", "group")) else "mode",
            describe=f"set {', '.join(changes)} on {path}",
            what=f"setting {', '.join(changes)} on {path} failed",
        )
    return changes, None


# ---------------------------------------------------------------------- operations


async def file(
    conn: Connection,
    path: str,
    *,
    content: Content | None = None,
    src: str | os.PathLike[str] | None = None,
    owner: str | None = None,
    group: str | None = None,
    mode: int | str | None = None,
    backup: bool = False,
    sudo: bool = False,
    check: bool | None = None,
    notify: Any = None,
) -> OpResult:
    """Make `path` a file with this content (or a local file's), owner, group and mode.

    Without `content` or `src` the file only has to exist (an empty one is created). The
    content is compared by checksum and written atomically; `backup=True` keeps the old
    file as `PATH.<time>~`. A Secret `content` is masked in diffs.
    """
    secrets = [content] if isinstance(content, Secret) else []
    step = Step(conn, "file", str(path), sudo=sudo, check=check, notify=notify, secrets=secrets)
    async with step:
        check_path(step, path)
        if content is not None and src is not None:
            raise step.argument_error("src", "give content= or src=, not both")
        if content is not None and not isinstance(content, str | bytes | Secret):
            raise step.argument_error("content", f"must be str, bytes or Secret, not {content!r}")
        wanted = parse_mode(step, mode)
        data = content_bytes(content) if content is not None else None
        if src is not None:
            data = await asyncio.to_thread(read_local, step, src)
        if step.dry:
            return step.dry_run()
        argument = "src" if src is not None else "content"
        return await ensure_content(
            step, path, data, owner=owner, group=group, mode=wanted, backup=backup,
            argument=argument,
        )  # fmt: skip


def _secret_values(value: Any, found: list[str]) -> Any:
    """Return `value` with Secrets revealed (for rendering), collecting them in `found`."""
    if isinstance(value, Secret):
        found.append(value.reveal())
        return value.reveal()
    if isinstance(value, Mapping):
        return {key: _secret_values(item, found) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_secret_values(item, found) for item in value)
    return value


async def template(
    conn: Connection,
    src: str | os.PathLike[str],
    path: str,
    context: Mapping[str, Any] | None = None,
    *,
    validate: str | None = None,
    owner: str | None = None,
    group: str | None = None,
    mode: int | str | None = None,
    backup: bool = False,
    sudo: bool = False,
    check: bool | None = None,
    notify: Any = None,
) -> OpResult:
    """Render a Jinja2 template here and make `path` hold the result (as `file` does).

    The template sees the host's vars, `facts` (gathered when it uses them) and `context`
    (which wins); an undefined variable is an error, never an empty string. `validate` runs
    on the new file before it replaces the old one (`{path}` stands for it, e.g.
    "nginx -t -c {path}"); a rejected file never lands. Secret values in the context are
    rendered as they are and masked in diffs.
    """
    step = Step(conn, "template", str(path), sudo=sudo, check=check, notify=notify)
    async with step:
        check_path(step, path)
        source = os.fspath(src) if isinstance(src, str | os.PathLike) else None
        if not source:
            raise step.argument_error("src", f"must be a local template path, not {src!r}")
        if validate is not None and "{path}" not in validate:
            raise step.argument_error("validate", f"{validate!r} lacks {{path}}")
        wanted = parse_mode(step, mode)
        values: dict[str, Any] = dict(conn.host_vars)
        text = await asyncio.to_thread(_read_template, step, source)
        if "facts" in text and not step.dry:
            values["facts"] = await conn.facts()
        values.update(context or {})
        secrets: list[str] = []
        plain = _secret_values(values, secrets)
        step.secrets.extend(secrets)
        try:
            rendered = await asyncio.to_thread(
                render_template, step.host, source, str(path), plain, "jinja2"
            )
        except TemplateError as exc:
            argument = "context" if "undefined" in exc.reason else "src"
            raise RenderError(step.host, "template", argument, exc.reason) from exc
        except TransferError as exc:
            raise step.argument_error("src", exc.reason) from exc
        if step.dry:
            return step.dry_run()
        return await ensure_content(
            step, path, rendered.encode("utf-8"), owner=owner, group=group, mode=wanted,
            backup=backup, validate=validate, argument="src",
        )  # fmt: skip


def _read_template(step: Step, path: str) -> str:
    """Return a template's text; a missing one is an argument error."""
    if not os.path.isfile(path):
        raise step.argument_error("src", f"template {path} does not exist")
    with open(path, encoding="utf-8", errors="replace") as handle:
        return handle.read()


async def directory(
    conn: Connection,
    path: str,
    *,
    owner: str | None = None,
    group: str | None = None,
    mode: int | str | None = None,
    sudo: bool = False,
    check: bool | None = None,
    notify: Any = None,
) -> OpResult:
    """Make `path` a directory (with its parents) with this owner, group and mode."""
    step = Step(conn, "directory", str(path), sudo=sudo, check=check, notify=notify)
    async with step:
        check_path(step, path)
        wanted = parse_mode(step, mode)
        if step.dry:
            return step.dry_run()
        state = await step.path_state(path)
        refuse_conflict(step, state, "dir")
        if not state.exists:
            await step.change(
                directory_script(path, owner=owner, group=group, mode=wanted),
                describe=f"mkdir -p {path}",
                what=f"creating {path} failed",
            )
            return step.done(True, "create")
        changes = attribute_changes(state, owner, group, wanted)
        if not changes:
            return step.done(False)
        await step.change(
            attrs_script(state.write_path, owner=owner, group=group, mode=wanted),
            describe=f"set {', '.join(changes)} on {path}",
            what=f"setting {', '.join(changes)} on {path} failed",
        )
        return step.done(True, ", ".join(changes))


async def symlink(
    conn: Connection,
    path: str,
    target: str,
    *,
    owner: str | None = None,
    group: str | None = None,
    force: bool = False,
    sudo: bool = False,
    check: bool | None = None,
    notify: Any = None,
) -> OpResult:
    """Make `path` a symlink to `target`, switched atomically (a new link renamed over it).

    A regular file at `path` is replaced only with `force=True`; a directory never is.
    """
    step = Step(conn, "symlink", str(path), sudo=sudo, check=check, notify=notify)
    async with step:
        check_path(step, path)
        check_path(step, target, "target")
        if step.dry:
            return step.dry_run()
        state = await step.path_state(path, follow=False)
        if state.type == "dir" or (state.type in ("file", "other") and not force):
            kind = "a directory" if state.type == "dir" else "a regular file"
            hint = "remove it first (ops.absent)" if state.type == "dir" else "pass force=True"
            raise step.error(StateConflictError, "path", f"{path} is {kind}, not a symlink; {hint}")
        if state.type == "link" and state.target == target:
            changes = attribute_changes(state, owner, group, None)
            if not changes:
                return step.done(False)
        message = "create" if not state.exists else f"retarget {state.target} -> {target}"
        if state.type == "file":
            message = f"replace a regular file with a link to {target}"
        result = await step.change(
            symlink_script(path, target, owner=owner, group=group),
            describe=f"ln -sfn {target} {path}",
            what=f"linking {path} failed",
            handled=(NO_DIRECTORY,),
        )
        if result is not None and result.exited == NO_DIRECTORY:
            raise step.error(
                StateConflictError,
                "path",
                f"the directory of {path} does not exist; create it first (ops.directory)",
            )
        return step.done(True, message)


async def absent(
    conn: Connection,
    path: str,
    *,
    sudo: bool = False,
    check: bool | None = None,
    notify: Any = None,
) -> OpResult:
    """Make sure nothing is at `path`: a file, a symlink or a directory tree is removed."""
    step = Step(conn, "absent", str(path), sudo=sudo, check=check, notify=notify)
    async with step:
        check_path(step, path)
        if path.rstrip("/") in ("", "~", ".", ".."):
            raise step.argument_error("path", f"refusing to remove {path!r}")
        if step.dry:
            return step.dry_run()
        state = await step.path_state(path, follow=False, content="always")
        if not state.exists:
            return step.done(False)
        diff = None
        if state.type == "file":
            before = state.content if state.content is not None else b"\0(not read)"
            diff = file_diff(f"{step.host}:{path}", before, None, secrets=step.secrets)
        kind = {"dir": "directory", "link": "symlink", "file": "file"}.get(state.type, "file")
        await step.change(
            remove_script(path), describe=f"rm -rf {path}", what=f"removing {path} failed"
        )
        return step.done(True, f"remove {kind}", diff)
