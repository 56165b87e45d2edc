"""put, get and put_template against real sshd: round trips, atomicity, errors, templates.

The fleet runs on this machine, so the remote side is checked directly on disk (tests run as
root); content is compared by sha256.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import io
import itertools
import os
import pwd
import shutil
import stat
import tempfile
import tracemalloc
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import ClassVar

import asyncssh
import pytest

import corral.aio
from corral import Config, ConnectionLost
from corral.errors import ConfigError, TemplateError, TransferError, ValidationError
from corral.remote import transfer
from corral.testing.fleet import SSHDFleet

from .conftest import fleet_config

MiB = 1024 * 1024
MakeFleet = Callable[..., SSHDFleet]


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


def random_file(path: Path, size: int) -> Path:
    with open(path, "wb") as file:
        for start in range(0, size, MiB):
            file.write(os.urandom(min(MiB, size - start)))
    return path


def leftovers(directory: Path) -> list[str]:
    return sorted(name for name in os.listdir(directory) if name.startswith(".corral-"))


@pytest.fixture(scope="module")
def big_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 100 MiB file of random bytes."""
    return random_file(tmp_path_factory.mktemp("big") / "big.bin", 100 * MiB)


@pytest.fixture
def remote_dir(fleet: SSHDFleet) -> Iterator[Path]:
    """A fresh directory in the login user's home, owned by that user."""
    user = pwd.getpwnam(fleet.user)
    path = Path(tempfile.mkdtemp(prefix="transfer-", dir=fleet.home))
    os.chown(path, user.pw_uid, user.pw_gid)
    os.chmod(path, 0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
async def conn(fleet: SSHDFleet, config: Config) -> AsyncIterator[corral.aio.Connection]:
    async with corral.aio.Connection(fleet.hosts[0].alias, config=config) as c:
        yield c


def as_user(fleet: SSHDFleet, path: Path) -> None:
    user = pwd.getpwnam(fleet.user)
    os.chown(path, user.pw_uid, user.pw_gid, follow_symlinks=False)


# ---------------------------------------------------------------------- round trips


async def test_put_and_get_round_trip_100_mib_with_bounded_memory(
    conn: corral.aio.Connection, remote_dir: Path, big_file: Path, tmp_path: Path
) -> None:
    seen: list[tuple[int, int]] = []
    tracemalloc.start()
    try:
        put = await conn.put(
            big_file, str(remote_dir / "big.bin"), progress=lambda d, t: seen.append((d, t))
        )
        put_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        got = await conn.get(str(remote_dir / "big.bin"), str(tmp_path / "back.bin"))
        get_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert sha256(remote_dir / "big.bin") == sha256(big_file) == sha256(tmp_path / "back.bin")
    assert put.bytes == got.bytes == 100 * MiB
    assert put.changed and put.files == 1 and put.host == conn.original_host
    assert put.remote == str(remote_dir / "big.bin") and put.local == str(big_file)
    assert got.local == str(tmp_path / "back.bin")
    assert seen[-1] == (100 * MiB, 100 * MiB)
    assert all(a[0] < b[0] for a, b in itertools.pairwise(seen))
    # 16 requests of 256 KiB in flight: a few MiB, not the file
    assert put_peak < 24 * MiB, put_peak
    assert get_peak < 24 * MiB, get_peak
    assert leftovers(remote_dir) == [] and leftovers(tmp_path) == []


async def test_zero_byte_file_round_trips(
    conn: corral.aio.Connection, remote_dir: Path, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    seen: list[tuple[int, int]] = []
    result = await conn.put(empty, str(remote_dir / "empty"), progress=lambda *a: seen.append(a))
    assert (remote_dir / "empty").read_bytes() == b"" and result.bytes == 0
    assert seen == [(0, 0)]
    got = await conn.get(str(remote_dir / "empty"), str(tmp_path / "back"))
    assert (tmp_path / "back").read_bytes() == b"" and got.bytes == 0


async def test_file_like_objects_round_trip(conn: corral.aio.Connection, remote_dir: Path) -> None:
    data = os.urandom(3 * MiB + 17)
    source = io.BytesIO(data)
    source.seek(100)  # Fabric uploads the whole object and restores the position
    result = await conn.put(source, str(remote_dir / "blob"))
    assert (remote_dir / "blob").read_bytes() == data
    assert source.tell() == 100
    assert result.local is source and result.orig_local is source
    sink = io.BytesIO()
    got = await conn.get(str(remote_dir / "blob"), sink)
    assert sink.getvalue() == data and got.local is sink


async def test_file_like_object_needs_a_remote_path(conn: corral.aio.Connection) -> None:
    with pytest.raises(ConfigError, match="remote path"):
        await conn.put(io.BytesIO(b"x"))


async def test_directory_targets_keep_the_file_name(
    conn: corral.aio.Connection, fleet: SSHDFleet, remote_dir: Path, tmp_path: Path
) -> None:
    local = tmp_path / "notes.txt"
    local.write_text("notes\n")
    result = await conn.put(local, str(remote_dir))
    assert result.remote == str(remote_dir / "notes.txt")
    assert (remote_dir / "notes.txt").read_text() == "notes\n"
    (remote_dir / "sub").mkdir()
    as_user(fleet, remote_dir / "sub")
    await conn.put(local, str(remote_dir / "sub") + "/")
    assert (remote_dir / "sub" / "notes.txt").exists()
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    got = await conn.get(str(remote_dir / "notes.txt"), str(downloads))
    assert got.local == str(downloads / "notes.txt")
    assert (downloads / "notes.txt").read_text() == "notes\n"
    got = await conn.get(str(remote_dir / "notes.txt"), str(tmp_path / "new") + "/")
    assert (tmp_path / "new" / "notes.txt").read_text() == "notes\n"


async def test_defaults_are_the_remote_home_and_the_local_cwd(
    conn: corral.aio.Connection, fleet: SSHDFleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = f"corral-default-{os.getpid()}.txt"
    local = tmp_path / name
    local.write_text("home\n")
    try:
        result = await conn.put(local)
        assert result.remote == str(fleet.home / name)
        assert (fleet.home / name).read_text() == "home\n"
        monkeypatch.chdir(tmp_path)
        local.unlink()
        got = await conn.get(name)
        assert got.local == str(tmp_path / name) and local.read_text() == "home\n"
    finally:
        (fleet.home / name).unlink(missing_ok=True)


async def test_cd_applies_to_relative_remote_paths(
    conn: corral.aio.Connection, fleet: SSHDFleet, remote_dir: Path, tmp_path: Path
) -> None:
    local = tmp_path / "in-cd.txt"
    local.write_text("cd\n")
    (remote_dir / "inner").mkdir()
    as_user(fleet, remote_dir / "inner")
    with conn.cd(str(remote_dir)), conn.cd("inner"):
        result = await conn.put(local, "here.txt")
        got = await conn.get("here.txt", str(tmp_path / "back.txt"))
        absolute = await conn.put(local, str(remote_dir / "abs.txt"))
    assert result.remote == str(remote_dir / "inner" / "here.txt")
    assert (remote_dir / "inner" / "here.txt").read_text() == "cd\n"
    assert (tmp_path / "back.txt").read_text() == "cd\n" and got.remote == result.remote
    assert absolute.remote == str(remote_dir / "abs.txt")


async def test_preserve_mode_both_ways(
    conn: corral.aio.Connection, fleet: SSHDFleet, remote_dir: Path, tmp_path: Path
) -> None:
    local = tmp_path / "script.sh"
    local.write_text("#!/bin/sh\n")
    local.chmod(0o751)
    await conn.put(local, str(remote_dir / "script.sh"))
    assert stat.S_IMODE((remote_dir / "script.sh").stat().st_mode) == 0o751
    # preserve_mode=False keeps the mode of the file it replaces
    (remote_dir / "kept").write_text("old")
    as_user(fleet, remote_dir / "kept")
    (remote_dir / "kept").chmod(0o604)
    await conn.put(local, str(remote_dir / "kept"), preserve_mode=False)
    assert stat.S_IMODE((remote_dir / "kept").stat().st_mode) == 0o604
    (remote_dir / "script.sh").chmod(0o4710)  # setuid is not copied down
    await conn.get(str(remote_dir / "script.sh"), str(tmp_path / "down.sh"))
    assert stat.S_IMODE((tmp_path / "down.sh").stat().st_mode) == 0o710


async def test_get_placeholders_keep_three_hosts_apart(
    fleet: SSHDFleet, config: Config, remote_dir: Path, tmp_path: Path
) -> None:
    (remote_dir / "app.log").write_text("log\n")
    template = str(tmp_path / "out" / "{host}" / "{basename}")

    async def fetch(alias: str) -> str:
        async with corral.aio.Connection(alias, config=config) as c:
            return str((await c.get(str(remote_dir / "app.log"), template)).local)

    paths = await asyncio.gather(*(fetch(h.alias) for h in fleet.hosts))
    assert sorted(paths) == sorted(
        str(tmp_path / "out" / h.address / "app.log") for h in fleet.hosts
    )
    assert {sha256(p) for p in paths} == {sha256(remote_dir / "app.log")}


@pytest.mark.parametrize(
    ("host", "user"), [("..", None), (None, "../../../../tmp/x"), (None, "a/b")]
)
async def test_hostile_placeholder_values_are_refused_before_connecting(
    fleet: SSHDFleet, config: Config, tmp_path: Path, host: str | None, user: str | None
) -> None:
    c = corral.aio.Connection(host or fleet.hosts[0].alias, user=user, config=config)
    with pytest.raises(TransferError, match="not a safe file name") as info:
        await c.get("/etc/hostname", str(tmp_path / "out" / "{user}-{host}" / "f"))
    assert not c.is_connected
    assert str(tmp_path / "out") in str(info.value)
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------- recursive


async def test_recursive_put_and_get_keep_modes_and_symlinks(
    conn: corral.aio.Connection, remote_dir: Path, tmp_path: Path
) -> None:
    tree = tmp_path / "tree"
    (tree / "sub" / "deep").mkdir(parents=True)
    (tree / "a.txt").write_text("a\n")
    (tree / "sub" / "b.bin").write_bytes(os.urandom(300_000))
    (tree / "sub" / "deep" / "empty").write_bytes(b"")
    (tree / "run.sh").write_text("#!/bin/sh\n")
    (tree / "run.sh").chmod(0o750)
    (tree / "sub").chmod(0o750)
    (tree / "link").symlink_to("sub/b.bin")
    (tree / "dangling").symlink_to("/nonexistent/target")
    result = await conn.put(tree, str(remote_dir), recursive=True)
    landed = remote_dir / "tree"
    assert result.remote == str(landed) and result.files == 4 and result.changed
    assert (landed / "a.txt").read_text() == "a\n"
    assert sha256(landed / "sub" / "b.bin") == sha256(tree / "sub" / "b.bin")
    assert (landed / "sub" / "deep" / "empty").read_bytes() == b""
    assert stat.S_IMODE((landed / "run.sh").stat().st_mode) == 0o750
    assert stat.S_IMODE((landed / "sub").stat().st_mode) == 0o750
    assert os.readlink(landed / "link") == "sub/b.bin"
    assert os.readlink(landed / "dangling") == "/nonexistent/target"
    again = await conn.put(tree, str(remote_dir), recursive=True, only_changed=True)
    assert not again.changed and again.files == 0 and again.bytes == 0

    back = tmp_path / "back"
    back.mkdir()
    got = await conn.get(str(landed), str(back), recursive=True)
    copy = back / "tree"
    assert got.local == str(copy) and got.files == 4
    assert sha256(copy / "sub" / "b.bin") == sha256(tree / "sub" / "b.bin")
    assert stat.S_IMODE((copy / "run.sh").stat().st_mode) == 0o750
    assert stat.S_IMODE((copy / "sub").stat().st_mode) == 0o750
    assert sorted(os.listdir(copy)) == ["a.txt", "run.sh", "sub"]  # symlinks skipped
    assert leftovers(back) == []
    # a second recursive get merges into the existing tree
    (landed / "a.txt").write_text("changed\n")
    await conn.get(str(landed), str(back), recursive=True)
    assert (copy / "a.txt").read_text() == "changed\n"


async def test_recursive_get_does_not_follow_a_symlink_out_of_the_tree(
    conn: corral.aio.Connection, remote_dir: Path, tmp_path: Path
) -> None:
    (remote_dir / "tree").mkdir()
    (remote_dir / "tree" / "ok").write_text("ok")
    (remote_dir / "tree" / "escape").symlink_to("/etc")
    (remote_dir / "tree" / "passwd").symlink_to("/etc/passwd")
    await conn.get(str(remote_dir / "tree"), str(tmp_path / "copy"), recursive=True)
    assert sorted(os.listdir(tmp_path / "copy")) == ["ok"]


async def test_get_of_a_directory_needs_recursive(
    conn: corral.aio.Connection, remote_dir: Path, tmp_path: Path
) -> None:
    with pytest.raises(TransferError, match="is a directory; pass recursive=True"):
        await conn.get(str(remote_dir), str(tmp_path / "x"))


class _HostileSFTP(asyncssh.SFTPServer):
    """Serves a real directory, but lists extra names in "tree" (FIELD-NOTES case 50)."""

    extra: ClassVar[list[bytes]] = []

    def __init__(self, chan: asyncssh.SSHServerChannel[bytes], root: bytes) -> None:
        super().__init__(chan, chroot=root)

    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        async for entry in super().scandir(path):
            yield entry
        if path.rstrip(b"/").endswith(b"/tree"):
            attrs = asyncssh.SFTPAttrs(type=asyncssh.FILEXFER_TYPE_REGULAR, size=3)
            attrs.permissions = 0o100644
            for name in self.extra:
                yield asyncssh.SFTPName(name, b"", attrs)


@contextlib.asynccontextmanager
async def hostile_host(tmp_path: Path, extra: list[bytes]) -> AsyncIterator[Config]:
    """An in-process asyncssh server whose SFTP listings carry `extra` names."""
    root = tmp_path / "served"
    (root / "tree").mkdir(parents=True)
    (root / "tree" / "ok.txt").write_text("ok\n")
    (root / "tree" / "b").write_text("b\n")
    _HostileSFTP.extra = extra
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key = asyncssh.generate_private_key("ssh-ed25519")
    client_key.write_private_key(str(tmp_path / "id"))
    server = await asyncssh.create_server(
        asyncssh.SSHServer,
        "127.0.0.1",
        0,
        server_host_keys=[host_key],
        authorized_client_keys=asyncssh.import_authorized_keys(
            client_key.export_public_key().decode()
        ),
        sftp_factory=lambda chan: _HostileSFTP(chan, str(root).encode()),
    )
    port = server.sockets[0].getsockname()[1]
    known = tmp_path / "known_hosts"
    known.write_bytes(b"[127.0.0.1]:%d " % port + host_key.export_public_key())
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(
        f"Host hostile\n  HostName 127.0.0.1\n  Port {port}\n  User evil\n"
        f"  IdentityFile {tmp_path / 'id'}\n  IdentitiesOnly yes\n  UserKnownHostsFile {known}\n"
    )
    try:
        yield Config(overrides={"ssh_config_path": str(ssh_config)})
    finally:
        server.close()
        await server.wait_closed()


@pytest.mark.parametrize(
    "extra",
    [[b"../escaped"], [b"/tmp/escaped-abs"], [b"sub/escaped"], [b"..\\escaped"], [b"b"]],
    ids=["dotdot", "absolute", "slash", "backslash", "duplicate"],
)
async def test_recursive_get_refuses_a_hostile_listing(tmp_path: Path, extra: list[bytes]) -> None:
    async with hostile_host(tmp_path, extra) as config:
        download = tmp_path / "download"
        download.mkdir()
        async with corral.aio.Connection("hostile", config=config) as c:
            with pytest.raises(TransferError, match="the server listed") as info:
                await c.get("/tree", str(download), recursive=True)
        assert "hostile" in str(info.value) and str(download / "tree") in str(info.value)
        assert os.listdir(download) == []  # not even the partial tree
        assert "escaped" not in os.listdir(tmp_path) and "escaped-abs" not in os.listdir("/tmp")


# ---------------------------------------------------------------------- only_changed


async def test_only_changed_skips_an_identical_second_push(
    conn: corral.aio.Connection, remote_dir: Path, tmp_path: Path
) -> None:
    local = tmp_path / "conf"
    local.write_bytes(os.urandom(70_000))
    target = str(remote_dir / "conf")
    first = await conn.put(local, target, only_changed=True)
    second = await conn.put(local, target, only_changed=True)
    assert first.changed and first.bytes == 70_000
    assert not second.changed and second.bytes == 0
    local.write_bytes(os.urandom(70_000))  # same size, new content
    third = await conn.put(local, target, only_changed=True)
    assert third.changed and sha256(target) == sha256(local)


async def test_only_changed_without_sha256sum_hashes_over_sftp(
    conn: corral.aio.Connection, remote_dir: Path, tmp_path: Path
) -> None:
    local = tmp_path / "conf"
    local.write_text("same\n")
    await conn.put(local, str(remote_dir / "conf"))
    with conn.prefix("PATH=/nonexistent"):  # sha256sum is not found: exit 127
        result = await conn.put(local, str(remote_dir / "conf"), only_changed=True)
    assert not result.changed


# ---------------------------------------------------------------------- atomicity


@pytest.mark.parametrize("how", ["cancel", "kill-session"])
async def test_interrupted_upload_leaves_the_target_and_no_temp_file(
    make_fleet: MakeFleet,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    how: str,
) -> None:
    small = make_fleet(1)
    home = Path(small.home)
    directory = Path(tempfile.mkdtemp(prefix="transfer-", dir=home))
    as_user(small, directory)
    try:
        target = directory / "data.bin"
        target.write_bytes(b"original contents\n")
        as_user(small, target)
        before = sha256(target)
        local = random_file(tmp_path / "new.bin", 40 * MiB)
        async with corral.aio.Connection(small.hosts[0].alias, config=fleet_config(small)) as c:
            fired: list[list[str]] = []

            def interrupt(done: int, total: int) -> None:
                if done >= 8 * MiB and not fired:
                    fired.append(leftovers(directory))  # the temp file being written
                    if how == "cancel":
                        task = asyncio.current_task()
                        assert task is not None
                        task.cancel()
                    else:
                        small.kill_sessions()  # blocks the loop until the sessions are gone

            expected = asyncio.CancelledError if how == "cancel" else ConnectionLost
            with pytest.raises(expected) as info:
                await c.put(local, str(target), progress=interrupt)
            assert len(fired) == 1 and len(fired[0]) == 1
            if how == "kill-session":
                message = str(info.value)
                assert small.hosts[0].alias in message and str(target) in message
            # the connection is usable afterwards
            assert (await c.run("echo ok", hide=True)).stdout == "ok\n"
        assert sha256(target) == before
        assert leftovers(directory) == []
        gc.collect()
        assert "never retrieved" not in caplog.text
        assert [r.getMessage() for r in caplog.records if r.name == "asyncio"] == []
    finally:
        shutil.rmtree(directory, ignore_errors=True)


async def test_planted_symlink_at_the_temp_name_is_not_followed(
    conn: corral.aio.Connection,
    remote_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    victim = remote_dir / "victim"
    victim.write_text("precious\n")
    planted = remote_dir / ".corral-0123456789abcdef-target.txt"
    planted.symlink_to(victim)
    tokens = iter(["0123456789abcdef", "fedcba9876543210"])
    monkeypatch.setattr(transfer.upload, "_token", lambda: next(tokens))
    local = tmp_path / "target.txt"
    local.write_text("new\n")
    await conn.put(local, str(remote_dir / "target.txt"))
    assert victim.read_text() == "precious\n"
    assert os.readlink(planted) == str(victim)  # not ours: left alone
    assert (remote_dir / "target.txt").read_text() == "new\n"
    assert leftovers(remote_dir) == [planted.name]


async def test_atomic_false_writes_in_place(
    conn: corral.aio.Connection, fleet: SSHDFleet, remote_dir: Path, tmp_path: Path
) -> None:
    target = remote_dir / "inplace"
    target.write_text("old old old\n")
    as_user(fleet, target)
    inode = target.stat().st_ino
    local = tmp_path / "inplace"
    local.write_text("new\n")
    await conn.put(local, str(target), atomic=False)
    assert target.read_text() == "new\n" and target.stat().st_ino == inode


# ---------------------------------------------------------------------- errors


async def test_remote_permission_denied_names_host_and_paths(
    conn: corral.aio.Connection, tmp_path: Path
) -> None:
    locked = Path(tempfile.mkdtemp(prefix="corral-root-only-"))  # root's, 0700
    os.chmod(locked, 0o755)
    try:
        (locked / "target").write_text("root's\n")
        local = tmp_path / "file"
        local.write_text("x")
        with pytest.raises(TransferError) as info:
            await conn.put(local, str(locked / "target"))
        message = str(info.value)
        assert conn.original_host in message and str(local) in message
        assert str(locked / "target") in message and "not writable" in message
        assert info.value.local == str(local) and info.value.remote == str(locked / "target")
        assert (locked / "target").read_text() == "root's\n"
        (locked / "secret").write_text("s")
        (locked / "secret").chmod(0o600)
        with pytest.raises(TransferError, match="permission denied") as got:
            await conn.get(str(locked / "secret"), str(tmp_path / "secret"))
        assert conn.original_host in str(got.value) and str(locked / "secret") in str(got.value)
        assert not (tmp_path / "secret").exists() and leftovers(tmp_path) == []
    finally:
        shutil.rmtree(locked)


async def test_missing_remote_directory_and_missing_files_are_named(
    conn: corral.aio.Connection, remote_dir: Path, tmp_path: Path
) -> None:
    local = tmp_path / "file"
    local.write_text("x")
    missing = remote_dir / "no" / "such"
    with pytest.raises(TransferError, match=f"remote directory {missing} does not exist") as info:
        await conn.put(local, str(missing / "file"))
    assert conn.original_host in str(info.value) and str(local) in str(info.value)
    with pytest.raises(TransferError, match=r"local .*nothere does not exist"):
        await conn.put(tmp_path / "nothere", str(remote_dir / "x"))
    with pytest.raises(TransferError, match=f"remote {remote_dir}/gone does not exist"):
        await conn.get(str(remote_dir / "gone"), str(tmp_path / "gone"))
    with pytest.raises(TransferError, match="is a directory; pass recursive=True"):
        await conn.put(tmp_path, str(remote_dir / "x"))


@pytest.mark.parametrize(
    ("subsystem", "reason"),
    [("sftp /bin/false", "SFTP subsystem did not start"), ("other /bin/false", "refused")],
)
async def test_a_host_without_sftp_is_a_transfer_error(
    make_fleet: MakeFleet, tmp_path: Path, subsystem: str, reason: str
) -> None:
    small = make_fleet(1, sshd_options={"Subsystem": subsystem})
    local = tmp_path / "f"
    local.write_text("x")
    async with corral.aio.Connection(small.hosts[0].alias, config=fleet_config(small)) as c:
        with pytest.raises(TransferError, match=reason) as info:
            await c.put(local, "f")
        assert small.hosts[0].alias in str(info.value) and str(local) in str(info.value)
        assert (await c.run("echo usable", hide=True)).stdout == "usable\n"


async def test_disk_full_is_reported_and_the_target_kept(
    make_fleet: MakeFleet,
    tmp_path: Path,
) -> None:
    small = make_fleet(1)
    local = random_file(tmp_path / "five.bin", 5 * MiB)
    with small.tiny_disk("1m") as disk:  # the fault kit: a 1 MiB tmpfs at disk.mount
        config = Config(overrides={"ssh_config_path": str(disk.ssh_config_path)})
        alias, mount = disk.alias, disk.mount
        async with corral.aio.Connection(alias, config=config) as c:
            await c.run(f"printf 'keep me\\n' > {mount}/target", hide=True)
            with pytest.raises(TransferError, match=r"write failed \(disk full\?\)") as info:
                await c.put(local, f"{mount}/target")
            message = str(info.value)
            assert "full" in message and str(local) in message and f"{mount}/target" in message
            assert (await c.run(f"cat {mount}/target", hide=True)).stdout == "keep me\n"
            listing = await c.run(f"ls -A {mount}", hide=True)
            assert listing.stdout.split() == ["target"]  # the temp file was removed


# ---------------------------------------------------------------------- templates


async def test_put_template_renders_jinja2(
    conn: corral.aio.Connection, remote_dir: Path, tmp_path: Path
) -> None:
    template = tmp_path / "site.conf.j2"
    template.write_text("server {{ name }};\n{% for p in ports %}listen {{ p }};\n{% endfor %}")
    result = await conn.put_template(
        template, str(remote_dir) + "/", {"name": "web", "ports": [80, 443]}, mode=0o640
    )
    assert result.remote == str(remote_dir / "site.conf")
    assert (remote_dir / "site.conf").read_text() == "server web;\nlisten 80;\nlisten 443;\n"
    assert stat.S_IMODE((remote_dir / "site.conf").stat().st_mode) == 0o640


async def test_put_template_missing_variable_names_it(
    conn: corral.aio.Connection, remote_dir: Path, tmp_path: Path
) -> None:
    template = tmp_path / "t.j2"
    template.write_text("a={{ present }} b={{ absent_value }}\n")
    with pytest.raises(TemplateError, match="absent_value") as info:
        await conn.put_template(template, str(remote_dir / "t"), {"present": 1})
    assert isinstance(info.value, ConfigError) and conn.original_host in str(info.value)
    template.write_text("a=$present b=$missing_one\n")
    with pytest.raises(TemplateError, match="missing_one"):
        await conn.put_template(template, str(remote_dir / "t"), {"present": 1}, engine="string")
    assert not (remote_dir / "t").exists()
    await conn.put_template(
        template, str(remote_dir / "t"), {"present": 1, "missing_one": 2}, engine="string"
    )
    assert (remote_dir / "t").read_text() == "a=1 b=2\n"


async def test_put_template_validate_gates_the_rename(
    conn: corral.aio.Connection, fleet: SSHDFleet, remote_dir: Path, tmp_path: Path
) -> None:
    target = remote_dir / "app.conf"
    target.write_text("good=1\n")
    as_user(fleet, target)
    template = tmp_path / "app.conf.j2"
    template.write_text("{{ line }}\n")
    check = "grep -q '^good=' {path} || { echo \"bad line in {path}\" >&2; exit 3; }"
    with pytest.raises(ValidationError) as info:
        await conn.put_template(template, str(target), {"line": "broken"}, validate=check)
    assert target.read_text() == "good=1\n"
    assert leftovers(remote_dir) == []
    assert info.value.result.exited == 3 and "bad line in" in str(info.value)
    assert conn.original_host in str(info.value) and str(target) in str(info.value)
    result = await conn.put_template(template, str(target), {"line": "good=2"}, validate=check)
    assert result.changed and target.read_text() == "good=2\n"
    with pytest.raises(ConfigError, match="path"):
        await conn.put_template(template, str(target), {}, validate="true")


# ---------------------------------------------------------------------- sudo


def _staging_dirs(fleet: SSHDFleet) -> set[str]:
    """Names in /tmp owned by the login user (where `mktemp -d` stages sudo uploads)."""
    uid = pwd.getpwnam(fleet.user).pw_uid
    owned = set()
    for entry in os.scandir("/tmp"):
        with contextlib.suppress(OSError):
            if entry.stat(follow_symlinks=False).st_uid == uid:
                owned.add(entry.name)
    return owned


async def test_sudo_put_installs_as_root_with_owner_and_mode(
    fleet: SSHDFleet, tmp_path: Path
) -> None:
    config = fleet_config(fleet, sudo={"password": fleet.password})
    root_dir = Path(tempfile.mkdtemp(prefix="corral-sudo-put-"))
    os.chmod(root_dir, 0o755)
    try:
        (root_dir / "existing").write_text("old\n")
        os.chown(root_dir / "existing", 0, 0)
        (root_dir / "existing").chmod(0o640)
        local = tmp_path / "app.conf"
        local.write_text("new\n")
        local.chmod(0o600)
        staged_before = _staging_dirs(fleet)
        async with corral.aio.Connection(fleet.hosts[0].alias, config=config) as c:
            created = await c.put(
                local, str(root_dir) + "/", sudo=True, owner="corral-other", mode=0o644
            )
            replaced = await c.put(
                local, str(root_dir / "existing"), sudo=True, preserve_mode=False
            )
            again = await c.put(
                local,
                str(root_dir / "existing"),
                sudo=True,
                preserve_mode=False,
                only_changed=True,
            )
        info = (root_dir / "app.conf").stat()
        assert created.remote == str(root_dir / "app.conf") and created.changed
        assert (root_dir / "app.conf").read_text() == "new\n"
        assert pwd.getpwuid(info.st_uid).pw_name == "corral-other"
        assert stat.S_IMODE(info.st_mode) == 0o644
        existing = (root_dir / "existing").stat()
        assert replaced.changed and (root_dir / "existing").read_text() == "new\n"
        assert existing.st_uid == 0 and stat.S_IMODE(existing.st_mode) == 0o640
        assert not again.changed
        assert sorted(os.listdir(root_dir)) == ["app.conf", "existing"]
        assert _staging_dirs(fleet) == staged_before  # the private mktemp -d dirs are gone
    finally:
        shutil.rmtree(root_dir)


async def test_sudo_put_template_validate_failure_keeps_root_file(
    fleet: SSHDFleet, tmp_path: Path
) -> None:
    config = fleet_config(fleet, sudo={"password": fleet.password})
    root_dir = Path(tempfile.mkdtemp(prefix="corral-sudo-tpl-"))
    os.chmod(root_dir, 0o755)
    try:
        (root_dir / "site.conf").write_text("ok\n")
        template = tmp_path / "site.conf.j2"
        template.write_text("{{ body }}\n")
        async with corral.aio.Connection(fleet.hosts[0].alias, config=config) as c:
            with pytest.raises(ValidationError, match="nope"):
                await c.put_template(
                    template,
                    str(root_dir / "site.conf"),
                    {"body": "bad"},
                    sudo=True,
                    validate="grep -q ok {path} || { echo nope >&2; exit 1; }",
                )
            assert (root_dir / "site.conf").read_text() == "ok\n"
            await c.put_template(
                template,
                str(root_dir / "site.conf"),
                {"body": "ok 2"},
                sudo=True,
                validate="grep -q ok {path}",
            )
        assert (root_dir / "site.conf").read_text() == "ok 2\n"
        assert sorted(os.listdir(root_dir)) == ["site.conf"]
    finally:
        shutil.rmtree(root_dir)
