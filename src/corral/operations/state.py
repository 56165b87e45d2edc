"""Reading a path's state on a host in one probe: its type, mode, owner and group, and (when
asked) its checksum, its content and a symlink's target. Pure: the shell text and its parser.

The probe prints one header line, `TYPE MODE OWNER GROUP SIZE UID GID` (TYPE: file, dir,
link, other or absent), then `sha256 HEX` and `target PATH` lines when asked, then, when the
content is wanted, `content` and the bytes of the file to the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..runner.command import quote_path

PathType = Literal["file", "dir", "link", "other", "absent"]

#: Content above this size is not read back for a diff (the checksum still decides).
CONTENT_LIMIT = 1 << 20


@dataclass(frozen=True)
class PathState:
    """A path on a host as the probe saw it."""

    path: str
    type: PathType
    mode: int | None = None
    owner: str | None = None
    group: str | None = None
    size: int | None = None
    sha256: str | None = None
    #: A symlink's target (`readlink`), when the path is one.
    target: str | None = None
    #: The file's bytes, when they were asked for (and not too large).
    content: bytes | None = None
    #: Where a followed symlink led (the file a change writes), when the path was one.
    real: str | None = None

    uid: int | None = None
    gid: int | None = None

    def owned_by(self, owner: str | None, group: str | None) -> bool:
        """True when the owner and group are as given (a name, or a numeric id)."""
        return _same(owner, self.owner, self.uid) and _same(group, self.group, self.gid)

    @property
    def write_path(self) -> str:
        """The path a change writes: a followed symlink's file, else the path itself."""
        return self.real or self.path

    @property
    def exists(self) -> bool:
        """True unless the path is absent."""
        return self.type != "absent"


def state_script(
    path: str,
    *,
    follow: bool = True,
    sha256: bool = False,
    content: Literal["never", "always", "if-different"] = "never",
    expected_sha256: str | None = None,
    limit: int = CONTENT_LIMIT,
) -> str:
    """Return the probe's shell text for one path.

    `follow` reads what a symlink points to (a file operation writes through it, as `cp`
    does); without it a symlink is reported as a link. `content="if-different"` sends the
    content only when its checksum is not `expected_sha256` (for the diff of a change).
    """
    head = "stat -c '%a %U %G %s %u %g' -- \"$p\""
    lines = [f"p={quote_path(path)}"]
    real = ""
    if follow:
        lines.append('r=; if [ -L "$p" ] && [ -e "$p" ]; then p=$(readlink -f -- "$p"); r=1; fi')
        real = '; if [ -n "$r" ]; then printf \'real %s\\n\' "$p"; fi'
    file_part = [f"printf 'file %s\\n' \"$({head})\"{real}"]
    if sha256 or content == "if-different":
        file_part.append('s=$(sha256sum < "$p"); s=${s%% *}; printf \'sha256 %s\\n\' "$s"')
    small = f'[ "$(stat -c %s -- "$p")" -le {limit} ]'
    if content == "always":
        file_part.append(f'if {small}; then echo content; cat -- "$p"; fi')
    elif content == "if-different":
        want = expected_sha256 or "-"
        file_part.append(f'if [ "$s" != {want} ] && {small}; then echo content; cat -- "$p"; fi')
    lines += [
        f'if [ -L "$p" ]; then printf \'link %s\\ntarget %s\\n\' "$({head})" "$(readlink -- "$p")"',
        f'elif [ -d "$p" ]; then printf \'dir %s\\n\' "$({head})"{real}',
        'elif [ -f "$p" ]; then ' + "; ".join(file_part),
        f'elif [ -e "$p" ]; then printf \'other %s\\n\' "$({head})"',
        "else echo absent; fi",
    ]
    return "\n".join(lines)


def parse_state(path: str, output: bytes) -> PathState:
    """Read the probe's output back; raise ValueError when it is not the probe's."""
    head, _, rest = output.partition(b"\n")
    words = head.decode("utf-8", "replace").split()
    if not words or words[0] not in ("file", "dir", "link", "other", "absent"):
        raise ValueError(f"unexpected probe output: {head[:200]!r}")
    kind: PathType = words[0]  # type: ignore[assignment]
    if kind == "absent":
        return PathState(path=path, type="absent")
    if len(words) != 7:
        raise ValueError(f"unexpected probe output: {head[:200]!r}")
    mode, owner, group, size = int(words[1], 8), words[2], words[3], int(words[4])
    uid, gid = int(words[5]), int(words[6])
    sha: str | None = None
    target: str | None = None
    content: bytes | None = None
    real: str | None = None
    while rest:
        if rest.startswith(b"content\n"):
            content = rest[len(b"content\n") :]
            break
        line, _, rest = rest.partition(b"\n")
        key, _, value = line.decode("utf-8", "surrogateescape").partition(" ")
        if key == "sha256":
            sha = value
        elif key == "target":
            target = value
        elif key == "real":
            real = value
    return PathState(path, kind, mode, owner, group, size, sha, target, content, real, uid, gid)


def _same(wanted: str | None, name: str | None, number: int | None) -> bool:
    if wanted is None:
        return True
    if wanted.isdigit():
        return number == int(wanted)
    return name == wanted
