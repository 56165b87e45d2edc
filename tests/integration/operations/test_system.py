"""user, group, cron, sysctl and git against the real machine behind the fleet: names of the
tests' own, everything restored afterwards."""

from __future__ import annotations

import grp
import os
import pwd
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import corral.aio
from corral import Secret
from corral.aio import ops
from corral.errors import OperationArgumentError, OperationFailed, StateConflictError
from corral.testing.fleet import SSHDFleet

from .conftest import give, three_runs

root_only = pytest.mark.needs("root", "useradd", "groupadd")


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, check=False)


@pytest.fixture
def names() -> Iterator[tuple[str, str]]:
    """A user name and a group name of this test's own, deleted afterwards."""
    tag = uuid.uuid4().hex[:6]
    user, group = f"corral-u{tag}", f"corral-g{tag}"
    yield user, group
    _run("crontab", "-r", "-u", user)
    _run("userdel", "-r", user)
    _run("groupdel", group)


def account(name: str) -> Any:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    groups = sorted(g.gr_name for g in grp.getgrall() if name in g.gr_mem)
    return (entry.pw_uid, entry.pw_gid, entry.pw_dir, entry.pw_shell, entry.pw_gecos, groups)


@root_only
async def test_group_and_user_three_runs(
    c: corral.aio.Connection, checking: corral.aio.Connection, names: tuple[str, str]
) -> None:
    user, group = names

    async def make_group(conn: corral.aio.Connection) -> ops.OpResult:
        return await ops.group(conn, group, gid=48613, sudo=True)

    def group_state() -> Any:
        try:
            return grp.getgrnam(group).gr_gid
        except KeyError:
            return None

    await three_runs(
        c, checking, make_group, group_state, lambda: _run("groupmod", "-g", "48614", group)
    )
    assert group_state() == 48614
    assert (await make_group(c)).message == "gid 48614 -> 48613"

    async def make_user(conn: corral.aio.Connection) -> ops.OpResult:
        return await ops.user(
            conn, user, groups=[group], shell="/bin/sh", comment="corral test",
            password=Secret("$6$salt$hashvalue"), sudo=True,
        )  # fmt: skip

    first, _, third = await three_runs(
        c, checking, make_user, lambda: account(user),
        lambda: _run("usermod", "-s", "/bin/bash", "-G", "", user),
    )  # fmt: skip
    assert first.message == "create" and "$6$salt" not in " ".join(first.commands)
    assert third.message == f"would groups - -> {group}, shell '/bin/bash' -> '/bin/sh'"
    assert account(user)[3] == "/bin/bash"
    fixed = await make_user(c)
    assert fixed.changed and account(user)[3:] == ("/bin/sh", "corral test", [group])
    shadow = _run("getent", "shadow", user).stdout
    assert shadow.split(":")[1] == "$6$salt$hashvalue"
    gone = await ops.user(c, user, state="absent", remove=True, sudo=True)
    assert gone.message == "delete" and account(user) is None


@root_only
async def test_a_user_in_a_group_that_does_not_exist_is_a_typed_error(
    c: corral.aio.Connection, names: tuple[str, str]
) -> None:
    user, group = names
    with pytest.raises(StateConflictError) as caught:
        await ops.user(c, user, groups=[group], sudo=True)
    assert caught.value.argument == "groups" and f"group {group} does not exist" in str(
        caught.value
    )
    assert account(user) is None
    with pytest.raises(OperationArgumentError) as bad:
        await ops.user(c, "Bad Name!", sudo=True)
    assert bad.value.argument == "name"
    with pytest.raises(OperationArgumentError):
        await ops.user(c, user, groups="wheel", sudo=True)


def crontab(user: str) -> str:
    return _run("crontab", "-l", "-u", user).stdout


@root_only
@pytest.mark.needs("crontab")
async def test_cron_three_runs_in_a_users_crontab(
    c: corral.aio.Connection, checking: corral.aio.Connection, names: tuple[str, str]
) -> None:
    user, _ = names
    _run("useradd", "-M", user)

    async def apply(conn: corral.aio.Connection) -> ops.OpResult:
        return await ops.cron(
            conn, "nightly backup", "/usr/local/bin/backup", minute="5", hour="2",
            user=user, sudo=True,
        )  # fmt: skip

    def drift() -> None:
        subprocess.run(
            ["crontab", "-u", user, "-"], input="# corral: nightly backup\n0 3 * * * x\n",
            text=True, check=True,
        )  # fmt: skip

    first, _, third = await three_runs(c, checking, apply, lambda: crontab(user), drift)
    assert first.message == "add entry"
    assert third.message == "would update entry"
    assert third.diff is not None and "+5 2 * * * /usr/local/bin/backup" in third.diff
    assert crontab(user) == "# corral: nightly backup\n0 3 * * * x\n"
    await apply(c)
    assert crontab(user) == "# corral: nightly backup\n5 2 * * * /usr/local/bin/backup\n"
    removed = await ops.cron(c, "nightly backup", state="absent", user=user, sudo=True)
    assert removed.message == "remove entry" and crontab(user) == ""


@root_only
async def test_cron_in_a_cron_d_file(
    c: corral.aio.Connection, checking: corral.aio.Connection
) -> None:
    path = Path("/etc/cron.d") / f"corral-test-{uuid.uuid4().hex[:6]}"
    try:

        async def apply(conn: corral.aio.Connection) -> ops.OpResult:
            return await ops.cron(
                conn, "rotate", "/bin/true", special_time="hourly", cron_file=str(path),
                sudo=True,
            )  # fmt: skip

        def read() -> Any:
            return path.read_text() if path.exists() else None

        await three_runs(c, checking, apply, read, lambda: path.write_text("# emptied\n"))
        assert path.read_text() == "# emptied\n"
        await apply(c)
        assert path.read_text() == "# emptied\n# corral: rotate\n@hourly root /bin/true\n"
    finally:
        path.unlink(missing_ok=True)


@pytest.mark.parametrize(
    ("kwargs", "argument"),
    [
        ({"job": None}, "job"),
        ({"job": "x", "special_time": "daily", "hour": "3"}, "special_time"),
        ({"job": "x", "special_time": "sometimes"}, "special_time"),
        ({"job": "x", "minute": "5; rm -rf /"}, "minute"),
    ],
)
async def test_bad_cron_arguments(
    c: corral.aio.Connection, kwargs: dict[str, Any], argument: str
) -> None:
    with pytest.raises(OperationArgumentError) as caught:
        await ops.cron(c, "entry", **kwargs)
    assert caught.value.argument == argument


SYSCTL = "fs.inotify.max_user_instances"


def sysctl_value() -> str:
    return Path("/proc/sys/fs/inotify/max_user_instances").read_text().strip()


@pytest.fixture
def sysctl_file() -> Iterator[Path]:
    """A sysctl.d file of this test's own; the kernel value is restored afterwards."""
    before = sysctl_value()
    path = Path("/etc/sysctl.d") / f"99-corral-test-{uuid.uuid4().hex[:6]}.conf"
    yield path
    path.unlink(missing_ok=True)
    Path("/proc/sys/fs/inotify/max_user_instances").write_text(before)


@root_only
async def test_sysctl_three_runs_live_and_persisted(
    c: corral.aio.Connection, checking: corral.aio.Connection, sysctl_file: Path
) -> None:
    wanted = str(int(sysctl_value()) + 7)

    async def apply(conn: corral.aio.Connection) -> ops.OpResult:
        return await ops.sysctl(conn, SYSCTL, wanted, file=str(sysctl_file), sudo=True)

    def read() -> tuple[str, str | None]:
        text = sysctl_file.read_text() if sysctl_file.exists() else None
        return sysctl_value(), text

    def drift() -> None:
        Path("/proc/sys/fs/inotify/max_user_instances").write_text(str(int(wanted) + 1))

    first, _, third = await three_runs(c, checking, apply, read, drift)
    assert first.message.startswith("set ") and f"create {sysctl_file}" in first.message
    assert read()[1] == f"{SYSCTL} = {wanted}\n"
    assert third.message == f"would set {int(wanted) + 1} -> {wanted}"
    with pytest.raises(OperationArgumentError) as caught:
        await ops.sysctl(c, "kernel.no_such_knob_here", "1", file=str(sysctl_file), sudo=True)
    assert caught.value.argument == "name"


@pytest.fixture
def origin(fleet: SSHDFleet) -> Iterator[dict[str, str]]:
    """A real git repository on disk (the fleet user's, as git wants a repository to be its
    reader's own): two commits on main, tag v1 on the first, branch topic on the second."""
    root = Path("/tmp") / f"corral-git-{uuid.uuid4().hex[:8]}"
    work = root / "work"
    work.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@x",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@x"}  # fmt: skip

    def git(*argv: str, cwd: Path = work) -> str:
        done = subprocess.run(["git", *argv], cwd=cwd, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    git("init", "-q", "-b", "main")
    (work / "app.txt").write_text("one\n")
    git("add", "app.txt")
    git("commit", "-q", "-m", "one")
    git("tag", "-a", "v1", "-m", "v1")
    first = git("rev-parse", "HEAD")
    (work / "app.txt").write_text("two\n")
    git("commit", "-q", "-am", "two")
    second = git("rev-parse", "HEAD")
    git("branch", "topic")
    git("clone", "-q", "--bare", str(work), str(root / "origin.git"), cwd=root)
    give(fleet, root)
    yield {"url": str(root / "origin.git"), "first": first, "second": second}
    subprocess.run(["rm", "-rf", str(root)], check=False)


def head(dest: Path) -> str:
    done = subprocess.run(
        ["git", "-c", f"safe.directory={dest}", "-C", str(dest), "rev-parse", "HEAD"],
        capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip()


@pytest.mark.needs("git")
async def test_git_three_runs_on_a_branch_a_tag_and_a_commit(
    fleet: SSHDFleet, c: corral.aio.Connection, checking: corral.aio.Connection,
    workdir: Path, origin: dict[str, str],
) -> None:  # fmt: skip
    dest = workdir / "app"

    async def apply(conn: corral.aio.Connection) -> ops.OpResult:
        return await ops.git(conn, origin["url"], str(dest), version="main")

    def drift() -> None:
        fleet.run_as_user(f"git -C {dest} checkout -q --detach {origin['first']}")

    first, _, third = await three_runs(c, checking, apply, lambda: head(dest), drift)
    assert first.message.startswith("clone at main")
    assert third.message.startswith(f"would update {origin['first'][:12]} -> ")
    assert head(dest) == origin["first"]
    assert (await apply(c)).changed and head(dest) == origin["second"]
    tag = await ops.git(c, origin["url"], str(dest), version="v1")
    assert tag.changed and head(dest) == origin["first"]
    assert not (await ops.git(c, origin["url"], str(dest), version="v1")).changed
    commit = await ops.git(c, origin["url"], str(dest), version=origin["second"])
    assert commit.changed and head(dest) == origin["second"]
    assert not (await ops.git(c, origin["url"], str(dest), version=origin["second"])).changed


@pytest.mark.needs("git")
async def test_git_keeps_local_changes_unless_forced(
    fleet: SSHDFleet, c: corral.aio.Connection, workdir: Path, origin: dict[str, str]
) -> None:
    dest = workdir / "app"
    await ops.git(c, origin["url"], str(dest), version="v1")
    (dest / "app.txt").write_text("edited\n")
    give(fleet, dest)
    with pytest.raises(StateConflictError) as caught:
        await ops.git(c, origin["url"], str(dest), version="main")
    assert caught.value.argument == "dest" and "local changes" in str(caught.value)
    assert (dest / "app.txt").read_text() == "edited\n"
    forced = await ops.git(c, origin["url"], str(dest), version="main", force=True)
    assert forced.changed and (dest / "app.txt").read_text() == "two\n"
    with pytest.raises(OperationArgumentError) as unknown:
        await ops.git(c, origin["url"], str(dest), version="no-such-branch")
    assert unknown.value.argument == "version"


@pytest.mark.needs("git")
async def test_git_says_when_the_repository_cannot_be_read(
    c: corral.aio.Connection, workdir: Path
) -> None:
    with pytest.raises(OperationFailed) as caught:
        await ops.git(c, str(workdir / "no-such.git"), str(workdir / "app"))
    assert caught.value.argument == "repo" and "cannot read" in str(caught.value)
    assert not (workdir / "app").exists()
