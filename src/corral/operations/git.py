"""`git`: a clone of a repository at a given branch, tag or commit in a directory.

One probe reads the checkout (its HEAD, origin and whether it has local changes) and asks
the repository what the version is now (`git ls-remote`, read-only); nothing is fetched
unless HEAD must move.
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING, Any

from ..errors import StateConflictError
from ..runner.command import quote_path
from .files import check_path
from .result import OpResult
from .step import Step

if TYPE_CHECKING:
    from ..remote.connection import Connection

_SHA = re.compile(r"[0-9a-f]{7,40}\Z")
_REF = re.compile(r"[A-Za-z0-9_./@+-]+\Z")


def probe_script(repo: str, dest: str, version: str) -> str:
    """Return the probe: the checkout's state, then the version's refs in the repository."""
    d = quote_path(dest)
    r = shlex.quote(repo)
    lines = [
        "command -v git >/dev/null 2>&1 || { echo nogit; exit 0; }",
        f"d={d}",
        'if [ ! -e "$d" ]; then echo absent',
        'elif ! git -C "$d" rev-parse --is-inside-work-tree >/dev/null 2>&1; then echo notrepo',
        "else",
        '  printf "head %s\\n" "$(git -C "$d" rev-parse -q --verify HEAD || echo -)"',
        '  printf "origin %s\\n" "$(git -C "$d" remote get-url origin 2>/dev/null || echo -)"',
        '  printf "branch %s\\n" "$(git -C "$d" symbolic-ref -q --short HEAD || echo -)"',
        '  if [ -n "$(git -C "$d" status --porcelain --untracked-files=no)" ]; then',
        "    echo dirty; fi",
        "fi",
    ]
    if not re.fullmatch(r"[0-9a-f]{40}", version):
        refs = "HEAD" if version == "HEAD" else f"refs/heads/{version} refs/tags/{version}"
        refs += "" if version == "HEAD" else f" refs/tags/{version}^{{}}"
        lines.append(
            f"if refs=$(git ls-remote -- {r} {' '.join(shlex.quote(x) for x in refs.split())})"
            "; then printf '%s\\n' \"$refs\" | sed '/^$/d; s/^/ref /'; else echo lsfailed; fi"
        )
    return "\n".join(lines)


def parse_probe(output: str) -> dict[str, Any]:
    """Read the probe back: state (absent, notrepo, repo, nogit), head, origin, refs."""
    found: dict[str, Any] = {"state": "repo", "refs": {}, "dirty": False}
    for line in output.splitlines():
        key, _, value = line.partition(" ")
        if key in ("absent", "notrepo", "nogit"):
            found["state"] = key
        elif key in ("head", "origin", "branch"):
            found[key] = None if value.strip() == "-" else value.strip()
        elif key == "dirty":
            found["dirty"] = True
        elif key == "lsfailed":
            found["lsfailed"] = True
        elif key == "ref":
            sha, _, ref = value.partition("\t")
            found["refs"][ref.strip()] = sha.strip()
    return found


def resolve(version: str, refs: dict[str, str]) -> tuple[str | None, str]:
    """Return (commit, kind) of a version: kind is branch, tag, commit or head."""
    if version == "HEAD":
        return refs.get("HEAD"), "head"
    if f"refs/heads/{version}" in refs:
        return refs[f"refs/heads/{version}"], "branch"
    peeled = refs.get(f"refs/tags/{version}^{{}}")
    if peeled or f"refs/tags/{version}" in refs:
        return peeled or refs[f"refs/tags/{version}"], "tag"
    if _SHA.match(version):
        return (version if len(version) == 40 else None), "commit"
    return None, "unknown"


def checkout_script(dest: str, version: str, kind: str, *, force: bool) -> str:
    """Return the commands that fetch and check out a version in an existing clone."""
    d = quote_path(dest)
    v = shlex.quote(version)
    f = " -f" if force else ""
    lines = ["set -eu", f"cd {d}"]
    if kind == "branch":
        lines += [
            f"git fetch -q origin +refs/heads/{version}:refs/remotes/origin/{version}",
            f"git checkout -q{f} -B {v} refs/remotes/origin/{v}",
        ]
    elif kind == "tag":
        lines += [
            "git fetch -q --tags origin",
            f"git checkout -q{f} --detach {shlex.quote(f'refs/tags/{version}')}",
        ]
    elif kind == "head":
        lines += ["git fetch -q origin HEAD", f"git checkout -q{f} --detach FETCH_HEAD"]
    else:
        lines += [
            f"git cat-file -e {v}^{{commit}} 2>/dev/null || git fetch -q origin",
            f"git checkout -q{f} --detach {v}",
        ]
    return "\n".join(lines) + "\n"


def clone_script(repo: str, dest: str, version: str, kind: str, depth: int | None) -> str:
    """Return the commands that clone the repository and check out a version."""
    d = quote_path(dest)
    r = shlex.quote(repo)
    v = shlex.quote(version)
    shallow = f" --depth {depth}" if depth else ""
    if kind in ("branch", "tag"):
        return f"set -eu\ngit clone -q{shallow} --branch {v} -- {r} {d}\n" + (
            f"cd {d}\ngit checkout -q --detach {shlex.quote(f'refs/tags/{version}')}\n"
            if kind == "tag" else ""
        )  # fmt: skip
    if kind == "head":
        return f"set -eu\ngit clone -q{shallow} -- {r} {d}\n"
    return f"set -eu\ngit clone -q -- {r} {d}\ncd {d}\ngit checkout -q --detach {v}\n"


async def git(
    conn: Connection,
    repo: str,
    dest: str,
    *,
    version: str = "HEAD",
    update: bool = True,
    force: bool = False,
    depth: int | None = None,
    sudo: bool = False,
    check: bool | None = None,
    notify: Any = None,
) -> OpResult:
    """Make `dest` a clone of `repo` checked out at `version` (a branch, tag or commit).

    A branch is checked out as a local branch at the remote's tip; a tag or commit is
    checked out detached. Local changes stop it unless `force=True` discards them;
    `update=False` leaves an existing clone where it is.
    """
    step = Step(conn, "git", str(dest), sudo=sudo, check=check, notify=notify)
    async with step:
        check_path(step, dest, "dest")
        if not isinstance(repo, str) or not repo.strip() or repo.startswith("-"):
            raise step.argument_error("repo", f"{repo!r} is not a repository URL or path")
        if not isinstance(version, str) or not _REF.match(version) or version.startswith("-"):
            raise step.argument_error("version", f"{version!r} is not a branch, tag or commit")
        if depth is not None and (not isinstance(depth, int) or depth < 1):
            raise step.argument_error("depth", f"{depth!r} must be a whole number >= 1")
        if step.dry:
            return step.dry_run()
        result = await step.probe(probe_script(repo, dest, version), describe=f"git: {dest}")
        found = parse_probe(result.stdout)
        if found["state"] == "nogit":
            raise step.error(
                StateConflictError, "repo", "git is not installed on the host (ops.package)"
            )
        if found["state"] == "notrepo":
            raise step.error(StateConflictError, "dest", f"{dest} exists and is not a git checkout")
        if found.get("lsfailed"):
            raise step.failed(result, "repo", f"cannot read {repo} from the host")
        commit, kind = resolve(version, found["refs"])
        if kind == "unknown":
            raise step.argument_error("version", f"no branch, tag or commit {version!r} in {repo}")
        if found["state"] == "absent":
            await step.change(
                clone_script(repo, dest, version, kind, depth),
                argument="repo",
                describe=f"git clone {repo} {dest} ({version})",
                what=f"cloning {repo} failed",
            )
            return step.done(True, f"clone at {version} ({(commit or version)[:12]})")
        head = found.get("head")
        at_target = head is not None and commit is not None and head == commit
        if kind == "commit" and commit is None and head is not None:
            at_target = head.startswith(version)
        if kind == "branch" and found.get("branch") != version:
            at_target = False
        if not update or at_target:
            if found["dirty"] and force:
                pass  # discard local changes below
            else:
                return step.done(False)
        if found["dirty"] and not force:
            raise step.error(
                StateConflictError,
                "dest",
                f"{dest} has local changes; commit them elsewhere or pass force=True to "
                "discard them",
            )
        words = []
        if found.get("origin") != repo:
            await step.change(
                f"git -C {quote_path(dest)} remote set-url origin -- {shlex.quote(repo)}",
                argument="repo",
                describe=f"git remote set-url origin {repo}",
                what="setting the origin failed",
            )
            words.append(f"origin {found.get('origin')} -> {repo}")
        await step.change(
            checkout_script(dest, version, kind, force=force),
            argument="version",
            describe=f"git checkout {version} in {dest}",
            what=f"checking out {version} failed",
        )
        moved = f"{(head or '-')[:12]} -> {(commit or version)[:12]}"
        words.insert(0, f"update {moved}" if not at_target else "discard local changes")
        return step.done(True, ", ".join(words))
