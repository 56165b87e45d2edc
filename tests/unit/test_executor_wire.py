"""What travels between the caller and an executor's workers: outcomes as data and back,
operations that cannot travel refused, hosts' specs, and the choice of a worker."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest

from corral import Config, Result
from corral.aio import Connection
from corral.errors import (
    CommandInterrupted,
    ConfigError,
    ControllerLost,
    HostSkipped,
    RemoteError,
    UnexpectedExit,
)
from corral.executors.base import ShardHandle, lost, pick
from corral.remote.executors import HostJob, HostSpec, Operation, from_wire, to_wire


class OwnError(Exception):
    """An error type only a worker knows (as a corralfile's own)."""


def test_a_result_travels_without_its_connection_and_gets_it_back() -> None:
    conn = Connection("web1", config=Config())
    result = Result(command="uname", exited=0, host="web1", stdout_bytes=b"Linux\n")
    result = type(result)(**{**result.__dict__, "connection": conn})
    wire = to_wire(result)
    assert wire.connection is None
    pickle.dumps(wire)
    back = from_wire(pickle.loads(pickle.dumps(wire)), conn)
    assert back.connection is conn and back.stdout == "Linux\n"
    assert (back.command, back.exited, back.host) == ("uname", 0, "web1")


def test_an_unexpected_exit_is_rebuilt_with_its_type_message_status_and_result() -> None:
    conn = Connection("web1", config=Config())
    failed = UnexpectedExit(Result(command="false", exited=3, host="web1", stderr_bytes=b"no\n"))
    back = from_wire(pickle.loads(pickle.dumps(to_wire(failed))), conn, "web1")
    assert type(back) is UnexpectedExit
    assert str(back) == str(failed) and back.exit_code == 3 and back.host == "web1"
    assert back.result.stderr == "no\n" and back.result.connection is conn


@pytest.mark.parametrize(
    "error",
    [
        HostSkipped("web1", "not started: limits"),
        CommandInterrupted("web1", "interrupted", result=None),
        ControllerLost("web1", "controller lost: x"),
        ValueError("bad value"),
    ],
)
def test_errors_keep_their_type_and_message(error: BaseException) -> None:
    back = from_wire(pickle.loads(pickle.dumps(to_wire(error))), None, "web1")
    assert type(back) is type(error) and str(back) == str(error)
    assert getattr(back, "skipped", False) == getattr(error, "skipped", False)
    assert getattr(back, "interrupted", False) == getattr(error, "interrupted", False)


def test_an_error_type_unknown_here_becomes_a_remote_error_naming_it() -> None:
    back = from_wire(to_wire(OwnError("disk full")), None, "web1")
    assert isinstance(back, RemoteError)
    assert back.error_type == "OwnError" and back.host == "web1"
    assert "disk full" in str(back)


def test_an_operation_that_cannot_travel_is_refused() -> None:
    Operation("run", ("uptime",), {"hide": True}).check_travels()
    with Path(__file__).open("rb") as handle, pytest.raises(ConfigError, match="worker"):
        Operation("put", (handle, "/tmp/x", True)).check_travels()
    with pytest.raises(ConfigError, match="cannot be sent to a worker"):
        Operation("call", (lambda c: c,)).check_travels()
    with pytest.raises(ConfigError, match="expected one of"):
        Operation("teleport")


def test_a_host_spec_carries_settings_vars_and_placement_and_makes_the_connection() -> None:
    conn = Connection(
        "web1",
        user="deploy",
        port=2222,
        config=Config(overrides={"run": {"echo": True}}),
        host_vars={"region": "eu", "role": "web"},
    )
    spec = HostSpec.of(conn, "region")
    assert (spec.host, spec.user, spec.port, spec.placement) == ("web1", "deploy", 2222, "eu")
    assert HostSpec.of(conn, None).placement is None
    made = pickle.loads(pickle.dumps(spec)).connection({"bind_address": "127.9.9.9"})
    assert (made.original_host, made.user, made.port) == ("web1", "deploy", 2222)
    assert made.host_vars["role"] == "web" and made.config.run.echo is True
    assert made.config.bind_address == "127.9.9.9"  # the node's own setting wins


def test_a_host_goes_to_the_least_busy_live_worker_of_its_placement() -> None:
    eu1, eu2 = ShardHandle("eu1", 1, "eu"), ShardHandle("eu2", 2, "eu")
    anywhere = ShardHandle("any", 3)
    eu1.jobs.update({"a", "b"})
    spec = HostSpec("web1", "web1", "u", 22, {}, placement="eu")
    assert pick([eu1, eu2, anywhere], spec) is eu2
    eu2.alive = False
    assert pick([eu1, eu2, anywhere], spec) is eu1
    unplaced = HostSpec("web2", "web2", "u", 22, {})
    assert pick([eu1, eu2, anywhere], unplaced) is anywhere
    eu1.alive = False
    assert pick([eu1, eu2, anywhere], spec) is None


def test_a_lost_worker_fails_the_host_with_controller_lost_and_what_to_do() -> None:
    spec = HostSpec("web1", "web1", "u", 22, {})
    job = HostJob(spec, Operation("run", ("true",)))
    back = from_wire(lost(job, ShardHandle("actor 1", None, node="abc"), "died"), None, "web1")
    assert isinstance(back, ControllerLost)
    assert "controller lost" in str(back) and "--rerun-failed" in str(back)
    assert "actor 1 on node abc" in str(back)


def test_a_worker_with_the_same_ssh_config_uses_the_callers_reading_of_it(
    tmp_path: Path,
) -> None:
    from corral.transport import sshconfig

    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text("Host web1\n    HostName 127.9.0.1\n    Port 2200\n    User deploy\n")
    conn = Connection("web1", config=Config(overrides={"ssh_config_path": str(ssh_config)}))
    spec = pickle.loads(pickle.dumps(HostSpec.of(conn)))
    assert spec.ssh_config is not None and spec.ssh_stamps
    sshconfig._primed.clear()
    made = spec.connection()
    assert (made.host, made.port, made.user) == ("127.9.0.1", 2200, "deploy")
    assert [key[0] for key in sshconfig._primed] == ["web1"]  # no second parse
    ssh_config.write_text("Host web1\n    HostName 127.9.0.2\n")  # the node's own file differs
    sshconfig._primed.clear()
    made = spec.connection()
    assert sshconfig._primed == {}  # read here, not taken from the caller
