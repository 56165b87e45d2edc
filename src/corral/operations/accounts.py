"""`user` and `group`: local accounts, read with `getent` and changed with the shadow tools
(`useradd`, `usermod`, `userdel`, `groupadd`, `groupmod`, `groupdel`)."""

from __future__ import annotations

import re
import shlex
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from ..config.secret import Secret
from ..errors import StateConflictError
from .result import OpResult
from .step import Step

if TYPE_CHECKING:
    from ..remote.connection import Connection

_NAME = re.compile(r"[a-z_][a-z0-9_.-]*\$?\Z", re.IGNORECASE)


def _check_name(step: Step, argument: str, name: Any) -> str:
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > 32:
        raise step.argument_error(argument, f"{name!r} is not a user or group name")
    return name


def user_probe(name: str, groups: Sequence[str], shadow: bool) -> str:
    """Return the probe of a user: its passwd line, its groups, missing groups, its hash."""
    n = shlex.quote(name)
    lines = [
        f"if e=$(getent passwd -- {n}); then printf 'passwd %s\\n' \"$e\"; "
        f"printf 'groups %s\\n' \"$(id -Gn -- {n})\"; printf 'primary %s\\n' \"$(id -gn -- {n})\"; "
        "else echo absent; fi",
    ]
    for group in groups:
        g = shlex.quote(group)
        lines.append(f"getent group -- {g} >/dev/null || printf 'nogroup %s\\n' {g}")
    if shadow:
        lines.append(f"getent shadow -- {n} | cut -d: -f2 | sed 's/^/hash /'")
    return "\n".join(lines)


def parse_user(output: str) -> dict[str, Any]:
    """Read the user probe back: passwd fields, groups, primary, missing groups, hash."""
    found: dict[str, Any] = {"missing": []}
    for line in output.splitlines():
        key, _, value = line.partition(" ")
        if key == "passwd":
            parts = value.split(":")
            if len(parts) >= 7:
                found.update(
                    uid=int(parts[2]), gid=int(parts[3]), comment=parts[4], home=parts[5],
                    shell=parts[6],
                )  # fmt: skip
        elif key == "groups":
            found["groups"] = value.split()
        elif key == "primary":
            found["primary"] = value.strip()
        elif key == "nogroup":
            found["missing"].append(value.strip())
        elif key == "hash":
            found["hash"] = value.strip()
    return found


async def user(
    conn: Connection,
    name: str,
    *,
    state: Literal["present", "absent"] = "present",
    uid: int | None = None,
    group: str | None = None,
    groups: Sequence[str] | None = None,
    append: bool = False,
    home: str | None = None,
    shell: str | None = None,
    comment: str | None = None,
    system: bool = False,
    create_home: bool = True,
    password: str | Secret | None = None,
    remove: bool = False,
    sudo: bool = False,
    check: bool | None = None,
    notify: Any = None,
) -> OpResult:
    """Make a local user present (with these attributes) or absent.

    `group` is the primary group, `groups` the supplementary ones (exactly these, or with
    `append=True` at least these). `password` is a crypt hash (as in /etc/shadow), masked
    everywhere. `remove=True` with state="absent" deletes the home directory too.
    """
    secrets = [password] if isinstance(password, Secret) else []
    step = Step(conn, "user", str(name), sudo=sudo, check=check, notify=notify, secrets=secrets)
    async with step:
        _check_name(step, "name", name)
        if state not in ("present", "absent"):
            raise step.argument_error("state", f"must be 'present' or 'absent', not {state!r}")
        if isinstance(groups, str):
            raise step.argument_error("groups", "give a list of group names, not one string")
        for value in [group, *(groups or [])]:
            if value is not None:
                _check_name(step, "groups" if value != group else "group", value)
        if uid is not None and (not isinstance(uid, int) or uid < 0):
            raise step.argument_error("uid", f"{uid!r} is not a user id")
        for argument, text in (("home", home), ("shell", shell), ("comment", comment)):
            if text is not None and (":" in text or "\n" in text):
                raise step.argument_error(argument, f"{text!r} may not hold ':' or a newline")
        if state == "absent" and any(
            v is not None for v in (uid, group, groups, home, shell, comment, password)
        ):
            raise step.argument_error("state", "state='absent' takes no attributes")
        if step.dry:
            return step.dry_run()
        wanted_groups = [g for g in (groups or []) if g]
        needed = wanted_groups + ([group] if group else [])
        result = await step.probe(
            user_probe(name, needed, password is not None), describe=f"getent passwd {name}"
        )
        found = parse_user(result.stdout)
        exists = "uid" in found
        n = shlex.quote(name)
        if state == "absent":
            if not exists:
                return step.done(False)
            await step.change(
                f"userdel {'-r ' if remove else ''}-- {n}",
                describe=f"userdel {name}",
                what=f"could not delete user {name}",
            )
            return step.done(True, "delete")
        if found["missing"]:
            raise step.error(
                StateConflictError,
                "groups" if found["missing"][0] != group else "group",
                f"group {', '.join(found['missing'])} does not exist on the host; create it "
                "first (ops.group)",
            )
        hashed = password.reveal() if isinstance(password, Secret) else password
        flags: list[str] = []
        words: list[str] = []
        if not exists:
            flags += ["-u", str(uid)] if uid is not None else []
            flags += ["-g", group] if group else []
            flags += ["-G", ",".join(wanted_groups)] if wanted_groups else []
            flags += ["-d", home] if home else []
            flags += ["-s", shell] if shell else []
            flags += ["-c", comment] if comment is not None else []
            flags += ["-p", hashed] if hashed else []
            flags += ["-r"] if system else []
            flags += ["-m"] if create_home else ["-M"]
            shown = [f if f != hashed else "****" for f in flags]
            await step.change(
                shlex.join(["useradd", *flags, "--", name]),
                describe=shlex.join(["useradd", *shown, name]),
                what=f"could not create user {name}",
            )
            return step.done(True, "create")
        current = set(found.get("groups", [])) - {found.get("primary")}
        if uid is not None and found["uid"] != uid:
            flags += ["-u", str(uid)]
            words.append(f"uid {found['uid']} -> {uid}")
        if group and found.get("primary") != group:
            flags += ["-g", group]
            words.append(f"group {found.get('primary')} -> {group}")
        if groups is not None:
            wanted = set(wanted_groups)
            if (append and not wanted <= current) or (not append and wanted != current):
                flags += (["-a"] if append else []) + ["-G", ",".join(sorted(wanted))]
                words.append(
                    f"groups {','.join(sorted(current)) or '-'} -> "
                    f"{','.join(sorted(wanted | (current if append else set())))}"
                )
        for flag, key, value in (("-d", "home", home), ("-s", "shell", shell),
                                 ("-c", "comment", comment)):  # fmt: skip
            if value is not None and found.get(key) != value:
                flags += [flag, value]
                words.append(f"{key} {found.get(key)!r} -> {value!r}")
        if hashed and found.get("hash") != hashed:
            flags += ["-p", hashed]
            words.append("password")
        if not flags:
            return step.done(False)
        shown = [f if f != hashed else "****" for f in flags]
        await step.change(
            shlex.join(["usermod", *flags, "--", name]),
            describe=shlex.join(["usermod", *shown, name]),
            what=f"could not change user {name}",
        )
        return step.done(True, ", ".join(words))


async def group(
    conn: Connection,
    name: str,
    *,
    state: Literal["present", "absent"] = "present",
    gid: int | None = None,
    system: bool = False,
    sudo: bool = False,
    check: bool | None = None,
    notify: Any = None,
) -> OpResult:
    """Make a local group present (with this gid) or absent."""
    step = Step(conn, "group", str(name), sudo=sudo, check=check, notify=notify)
    async with step:
        _check_name(step, "name", name)
        if state not in ("present", "absent"):
            raise step.argument_error("state", f"must be 'present' or 'absent', not {state!r}")
        if gid is not None and (not isinstance(gid, int) or gid < 0):
            raise step.argument_error("gid", f"{gid!r} is not a group id")
        if step.dry:
            return step.dry_run()
        n = shlex.quote(name)
        result = await step.probe(f"getent group -- {n} || :", describe=f"getent group {name}")
        line = result.stdout.strip()
        exists = bool(line)
        if state == "absent":
            if not exists:
                return step.done(False)
            await step.change(
                f"groupdel -- {n}", describe=f"groupdel {name}", what=f"could not delete {name}"
            )
            return step.done(True, "delete")
        if not exists:
            flags = (["-g", str(gid)] if gid is not None else []) + (["-r"] if system else [])
            command = shlex.join(["groupadd", *flags, "--", name])
            await step.change(command, describe=command, what=f"could not create group {name}")
            return step.done(True, "create")
        current = int(line.split(":")[2])
        if gid is not None and current != gid:
            command = shlex.join(["groupmod", "-g", str(gid), "--", name])
            await step.change(command, describe=command, what=f"could not change group {name}")
            return step.done(True, f"gid {current} -> {gid}")
        return step.done(False)
