"""The shell text of the changes file operations make: an atomic write (a temp file beside
the target, filled from stdin, given its owner and mode, validated, renamed over the
target), attribute changes, directories and symlinks. Pure: POSIX sh plus coreutils.

Exit statuses the operations read: 3 the parent directory is missing, 4 `validate` rejected
the new content, 5 the target is a directory.
"""

from __future__ import annotations

import shlex

from ..runner.command import quote_path

NO_DIRECTORY = 3
INVALID = 4
IS_DIRECTORY = 5
INVALID_MARK = "corral:invalid:"
BACKUP_MARK = "corral:backup:"


def ownership(owner: str | None, group: str | None) -> str | None:
    """Return chown's OWNER[:GROUP] / :GROUP argument, or None when neither is set."""
    if owner is None and group is None:
        return None
    if group is None:
        return str(owner)
    return f"{owner or ''}:{group}"


def attrs_commands(
    path_var: str, *, owner: str | None, group: str | None, mode: int | None
) -> list[str]:
    """Return the chown and chmod commands for the path in shell variable `path_var`."""
    lines = []
    chown = ownership(owner, group)
    if chown is not None:
        lines.append(f'chown -- {shlex.quote(chown)} "${path_var}"')
    if mode is not None:
        lines.append(f'chmod -- {mode:o} "${path_var}"')
    return lines


def write_script(
    path: str,
    *,
    owner: str | None = None,
    group: str | None = None,
    mode: int | None = None,
    backup: bool = False,
    validate: str | None = None,
) -> str:
    """Return the script that writes stdin to `path` atomically.

    A new file gets the default mode (umask) unless `mode` is given; a replaced file keeps
    its owner and mode unless `owner`/`group`/`mode` say otherwise. `validate` runs on the
    temp file (`{path}` stands for it) before the rename; `backup` keeps the old file as
    `PATH.YYYYmmddTHHMMSS~` and prints its name.
    """
    lines = [
        "set -eu",
        f"p={quote_path(path)}",
        'd=$(dirname -- "$p")',
        f'[ -d "$d" ] || {{ echo "no directory $d" >&2; exit {NO_DIRECTORY}; }}',
        f'if [ -d "$p" ]; then echo "$p is a directory" >&2; exit {IS_DIRECTORY}; fi',
        't=$(mktemp -- "$d/.corral-XXXXXXXXXX")',
        "trap 'rm -f -- \"$t\"' EXIT",
        'cat > "$t"',
        'if [ -f "$p" ]; then chown --reference="$p" -- "$t" 2>/dev/null || :; '
        'chmod --reference="$p" -- "$t"; '
        'else chmod -- "$(printf %o $((0666 & ~$(umask))))" "$t"; fi',
        *attrs_commands("t", owner=owner, group=group, mode=mode),
    ]
    if validate is not None:
        check = validate.replace("{path}", '"$t"')
        lines.append(
            f"rc=0; ( {check}\n) || rc=$?; "  # a subshell: its `exit` is not ours
            f'if [ "$rc" -ne 0 ]; then echo "{INVALID_MARK}$rc" >&2; exit {INVALID}; fi'
        )
    if backup:
        lines.append(
            'if [ -f "$p" ]; then b="$p.$(date +%Y%m%dT%H%M%S)~"; cp -p -- "$p" "$b"; '
            f'echo "{BACKUP_MARK}$b"; fi'
        )
    lines += ['mv -f -- "$t" "$p"', "trap - EXIT"]
    return "\n".join(lines) + "\n"


def attrs_script(
    path: str, *, owner: str | None = None, group: str | None = None, mode: int | None = None
) -> str:
    """Return the script that sets a path's owner, group and mode."""
    return (
        "\n".join(
            [
                "set -eu",
                f"p={quote_path(path)}",
                *attrs_commands("p", owner=owner, group=group, mode=mode),
            ]
        )
        + "\n"
    )


def directory_script(
    path: str, *, owner: str | None = None, group: str | None = None, mode: int | None = None
) -> str:
    """Return the script that makes a directory (and its parents) with these attributes."""
    return "\n".join([
        "set -eu",
        f"p={quote_path(path)}",
        'mkdir -p -- "$p"',
        *attrs_commands("p", owner=owner, group=group, mode=mode),
    ]) + "\n"  # fmt: skip


def symlink_script(path: str, target: str, *, owner: str | None, group: str | None) -> str:
    """Return the script that points `path` at `target` atomically (a new link renamed over)."""
    lines = [
        "set -eu",
        f"p={quote_path(path)}",
        'd=$(dirname -- "$p")',
        f'[ -d "$d" ] || {{ echo "no directory $d" >&2; exit {NO_DIRECTORY}; }}',
        't="$d/.corral-link-$$"',
        f'ln -sfn -- {shlex.quote(target)} "$t"',
    ]
    chown = ownership(owner, group)
    if chown is not None:
        lines.append(f'chown -h -- {shlex.quote(chown)} "$t"')
    lines.append('mv -fT -- "$t" "$p" || { rm -f -- "$t"; exit 1; }')
    return "\n".join(lines) + "\n"


def remove_script(path: str) -> str:
    """Return the script that removes a path (a directory with everything in it)."""
    return f"rm -rf -- {quote_path(path)}\n"
