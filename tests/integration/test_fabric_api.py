"""Fabric's API where corral had holes (issue 11), against real sshd: settings changed on a
connection, `sftp()`, `shell()`, `asynchronous=`/`disown=`, `echo_stdin`, put of a missing
file, `client`/`transport`, and Invoke's module-level run and sudo."""

from __future__ import annotations

import asyncio
import contextlib
import io
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

import corral
import corral.aio
from corral import Config, Connection, Context
from corral.errors import (
    ConfigError,
    HostUnreachable,
    KeyFileError,
    LocalFileNotFoundError,
    SFTPError,
    SFTPFileNotFoundError,
    TransferError,
    UnexpectedExit,
    UnsupportedError,
)
from corral.testing.fleet import SSHDFleet

from .conftest import fleet_config


@pytest.fixture
def remote_dir(fleet: SSHDFleet) -> Iterator[Path]:
    """A directory of the test's own in the login user's home (the hosts share it)."""
    path = fleet.home / "corral-fabric-api" / uuid.uuid4().hex[:10]
    path.mkdir(parents=True)
    os.chown(path.parent, *_owner(fleet))
    os.chown(path, *_owner(fleet))
    yield path
    shutil.rmtree(path, ignore_errors=True)
    with contextlib.suppress(OSError):
        path.parent.rmdir()  # once no other test's directory is left in it


def _owner(fleet: SSHDFleet) -> tuple[int, int]:
    stat = fleet.home.stat()
    return stat.st_uid, stat.st_gid


def _relative(fleet: SSHDFleet, path: Path) -> str:
    return str(path.relative_to(fleet.home))


# ---------------------------------------------------------------------- settings


def test_changing_a_setting_while_connected_reopens_with_it(
    fleet: SSHDFleet, config: Config
) -> None:
    with Connection(fleet.hosts[0].alias, config=config) as c:
        assert c.run("true", hide=True).ok
        first = c.run("echo $PPID", hide=True).stdout
        c.connect_kwargs.key_filename = "/nonexistent/key"  # Fabric's attribute style
        with pytest.raises(KeyFileError, match="/nonexistent/key"):
            c.run("true", hide=True)  # the connection was reopened with the new key
        c.connect_kwargs["key_filename"] = str(fleet.key_path)
        assert c.run("echo $PPID", hide=True).stdout != first  # a new login session
        c.port = 1  # nothing listens there
        with pytest.raises(HostUnreachable):
            c.run("true", hide=True)
        c.port = fleet.hosts[0].port
        c.user = fleet.user
        assert c.run("whoami", hide=True).stdout.strip() == fleet.user


def test_settings_are_checked_when_set(config: Config) -> None:
    c = Connection("web1", config=config)
    with pytest.raises(ConfigError, match="port"):
        c.port = 70000
    with pytest.raises(ConfigError, match="unknown connect_kwargs sock_timeout"):
        c.connect_kwargs.sock_timeout = 3
    with pytest.raises(AttributeError):
        c.host = "elsewhere"  # type: ignore[misc]
    c.connect_kwargs.password = "s3cret"
    assert "s3cret" not in repr(c.connect_kwargs)
    assert c.connect_kwargs.password.reveal() == "s3cret"


async def test_a_setting_cannot_change_under_a_running_command(
    fleet: SSHDFleet, config: Config
) -> None:
    async with corral.aio.Connection(fleet.hosts[0].alias, config=config) as c:
        running = asyncio.ensure_future(c.run("sleep 2", hide=True))
        await asyncio.sleep(0)  # started: connecting, or running
        with pytest.raises(ConfigError, match="while commands run"):
            c.user = "someone-else"
        assert (await running).ok


def test_attributes_fall_back_to_config_as_in_invoke(fleet: SSHDFleet, config: Config) -> None:
    config["deploy_env"] = "staging"
    c = Connection(fleet.hosts[0].alias, config=config)
    assert c.deploy_env == "staging"  # type: ignore[attr-defined]
    c.deploy_env = "production"  # type: ignore[attr-defined]
    assert c.config.deploy_env == "production"
    with pytest.raises(AttributeError, match="config has no key 'nope'"):
        _ = c.nope  # type: ignore[attr-defined]
    local = Context(Config())
    local.stage = "qa"  # type: ignore[attr-defined]
    assert local.config.stage == "qa"


def test_connections_are_equal_by_host_user_and_port(fleet: SSHDFleet, config: Config) -> None:
    alias = fleet.hosts[0].alias
    a, b = Connection(alias, config=config), Connection(alias, config=config)
    assert a == b and hash(a) == hash(b) and a is not b
    assert len({a, b, Connection(fleet.hosts[1].alias, config=config)}) == 2
    assert a != Connection(alias, user="other", config=config)


def test_client_and_transport_say_what_to_use_instead(config: Config) -> None:
    c = Connection("web1", config=config)
    for name in ("client", "transport"):
        with pytest.raises(UnsupportedError, match="corral is not paramiko") as caught:
            getattr(c, name)
        assert "--host-key-policy" in str(caught.value)


# ---------------------------------------------------------------------- files


def test_put_of_a_missing_file_is_a_file_not_found_error(
    fleet: SSHDFleet, config: Config, tmp_path: Path
) -> None:
    with Connection(fleet.hosts[0].alias, config=config) as c:
        with pytest.raises(FileNotFoundError) as caught:
            c.put(str(tmp_path / "nope.txt"), "/tmp/nope.txt")
    error = caught.value
    assert isinstance(error, TransferError) and isinstance(error, LocalFileNotFoundError)
    assert error.filename == error.local and error.local.endswith("nope.txt")
    assert str(error).startswith(f"{fleet.hosts[0].alias}: cannot put: local ")


def test_sftp_has_paramikos_method_names(
    fleet: SSHDFleet, config: Config, remote_dir: Path, tmp_path: Path
) -> None:
    base = _relative(fleet, remote_dir)
    local = tmp_path / "app.conf"
    local.write_text("port = 80\n")
    with Connection(fleet.hosts[0].alias, config=config) as c:
        sftp = c.sftp()
        assert c.sftp() is not None
        sftp.mkdir(f"{base}/etc", 0o750)
        attributes = sftp.put(str(local), f"{base}/etc/app.conf")
        assert attributes.st_size == 10
        with sftp.open(f"{base}/etc/extra.conf", "w") as handle:
            handle.write("a = 1\nb = 2\n")
        with sftp.open(f"{base}/etc/extra.conf") as handle:
            assert handle.readline() == "a = 1\n"
            assert list(handle) == ["b = 2\n"]
        with sftp.open(f"{base}/etc/extra.conf", "a") as handle:
            handle.write(b"c = 3\n")
        assert sorted(sftp.listdir(f"{base}/etc")) == ["app.conf", "extra.conf"]
        sftp.chdir(f"{base}/etc")
        assert sftp.getcwd() == f"{fleet.home}/{base}/etc"
        assert sftp.stat("extra.conf").st_size == 18
        sftp.chmod("app.conf", 0o600)
        assert oct(sftp.lstat("app.conf").st_mode or 0)[-3:] == "600"
        sftp.symlink("app.conf", "current.conf")
        assert sftp.readlink("current.conf") == "app.conf"
        with pytest.raises(SFTPError) as exists:
            sftp.rename("extra.conf", "app.conf")  # paramiko's rename: no overwrite
        assert isinstance(exists.value, OSError)
        sftp.posix_rename("extra.conf", "app.conf")
        got = tmp_path / "got.conf"
        sftp.get("app.conf", str(got))
        assert got.read_text() == "a = 1\nb = 2\nc = 3\n"
        buffer = io.BytesIO()
        assert sftp.getfo("app.conf", buffer) == 18
        with pytest.raises(FileNotFoundError) as missing:
            sftp.stat("nope")
        assert isinstance(missing.value, SFTPFileNotFoundError)
        assert missing.value.filename.endswith("nope")
        for name in ("app.conf", "current.conf"):
            sftp.remove(name)
        sftp.chdir(None)
        sftp.rmdir(f"{base}/etc")
        assert sftp.listdir(base) == []
    assert not remote_dir.joinpath("etc").exists()


def test_sftp_under_dry_run_is_refused(fleet: SSHDFleet) -> None:
    dry = fleet_config(fleet, run={"dry": True})
    with pytest.raises(UnsupportedError, match="--dry"):
        Connection(fleet.hosts[0].alias, config=dry).sftp()


# ---------------------------------------------------------------------- commands


def test_shell_runs_a_login_shell_on_a_pty(fleet: SSHDFleet, config: Config) -> None:
    script = io.StringIO("echo in-the-shell-$((6 * 7))\nexit 3\n")
    with Connection(fleet.hosts[0].alias, config=config) as c:
        with pytest.raises(UnexpectedExit) as caught:
            c.shell(in_stream=script)
        assert "in-the-shell-42" in caught.value.result.stdout
        assert caught.value.result.pty
        ok = c.shell(in_stream=io.StringIO("exit\n"))
        assert ok.exited == 0
        with pytest.raises(TypeError, match="hide"):
            c.shell(hide=True)


def test_asynchronous_returns_a_promise_to_join(
    fleet: SSHDFleet, config: Config, remote_dir: Path
) -> None:
    with Connection(fleet.hosts[0].alias, config=config) as c:
        with c.cd(_relative(fleet, remote_dir)):
            promise = c.run("sleep 0.5; pwd", asynchronous=True, hide=True)
        # the cd() block has ended: the command kept the directory it was started in
        assert promise.join().stdout.strip() == str(remote_dir)
        failing = c.run("exit 7", asynchronous=True, hide=True)
        with pytest.raises(UnexpectedExit) as caught:
            failing.join()
        assert caught.value.result.exited == 7
        assert caught.value.result.connection is c
        with c.sudo("whoami", asynchronous=True, hide=True, password=fleet.password) as sudo:
            pass
        assert sudo.join().stdout.strip() == "root"
        local = c.local("echo here", asynchronous=True, hide=True)
        assert local.join().stdout == "here\n"


def test_disown_starts_the_command_and_returns_at_once(
    fleet: SSHDFleet, config: Config, remote_dir: Path, tmp_path: Path
) -> None:
    marker = remote_dir / "disowned"
    with Connection(fleet.hosts[0].alias, config=config) as c:
        assert c.run(f"sleep 0.3; touch {_relative(fleet, marker)}", disown=True) is None
        assert not marker.exists()  # it returned before the command finished
        _wait_for(marker)
        here = tmp_path / "local-disowned"
        assert corral.run(f"sleep 0.3; touch {here}", disown=True) is None
        _wait_for(here)


def _wait_for(path: Path, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


async def test_aio_names_the_tasks_way_for_asynchronous(config: Config) -> None:
    c = corral.aio.Connection("web1", config=config)
    with pytest.raises(TypeError, match=r"asyncio.create_task"):
        await c.run("true", asynchronous=True)  # type: ignore[call-arg]


def test_echo_stdin_shows_what_was_fed_to_the_command(fleet: SSHDFleet, config: Config) -> None:
    out = io.StringIO()
    with Connection(fleet.hosts[0].alias, config=config) as c:
        result = c.run(
            "cat >/dev/null; echo done",
            in_stream=io.StringIO("typed input\n"),
            echo_stdin=True,
            out_stream=out,
        )
    assert out.getvalue() == "typed input\ndone\n"
    assert result.stdout == "done\n"  # echoed input is shown, never captured


def test_fallback_runs_without_a_pty_only_where_none_can_be_had() -> None:
    result = corral.run("test -t 1 && echo tty", pty=True, hide=True, fallback=False)
    assert result.stdout.strip() == "tty" and result.pty


def test_invokes_module_level_run_and_sudo() -> None:
    assert corral.run("echo $((6 * 7))", hide=True).stdout == "42\n"
    assert corral.sudo("whoami", hide=True).stdout.strip() == "root"  # root: no password
    assert asyncio.run(corral.aio.run("echo aio", hide=True)).stdout == "aio\n"
