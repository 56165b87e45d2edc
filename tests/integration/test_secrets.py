"""Secrets stay out of logs (asyncssh's too), output, reprs and errors; NUL bytes are refused
before anything is sent, naming the host and what held it."""

from __future__ import annotations

import hashlib
import logging
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from corral import Connection, Context, Secret
from corral.errors import ConfigError
from corral.testing.fleet import SSHDFleet

from .conftest import fleet_config


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _token() -> str:
    return f"tok-{secrets.token_hex(8)}"


@pytest.fixture
def debug_logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Every record of asyncssh and corral, at DEBUG (as `corral -d` or a user's app has it)."""
    caplog.set_level(logging.DEBUG, logger="asyncssh")
    caplog.set_level(logging.DEBUG, logger="corral")
    return caplog


def _logged(caplog: pytest.LogCaptureFixture) -> str:
    return "\n".join(record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("inline", [True, False], ids=["inline-env", "ssh-env-request"])
def test_env_values_never_reach_a_log_record(
    fleet: SSHDFleet, debug_logs: pytest.LogCaptureFixture, inline: bool
) -> None:
    token = _token()
    with Connection(fleet.hosts[0].alias, config=fleet_config(fleet), inline_ssh_env=inline) as c:
        c.run("true", env={"API_TOKEN": token}, hide=True)
        c.run("true", env={"API_TOKEN": token}, hide=True, pty=True)
    logged = _logged(debug_logs)
    assert "Command:" in logged or "Env:" in logged  # asyncssh did log the request
    assert token not in logged
    if inline:
        assert "API_TOKEN='****'" in logged  # the command is still there to debug with


def test_sudo_env_values_and_password_never_reach_a_log_record(
    fleet: SSHDFleet, debug_logs: pytest.LogCaptureFixture
) -> None:
    token = _token()
    with Connection(fleet.hosts[0].alias, config=fleet_config(fleet)) as c:
        result = c.sudo(
            'printf %s "$API_TOKEN" | sha256sum', env={"API_TOKEN": token},
            password=fleet.password, hide=True,
        )  # fmt: skip
    assert result.stdout.split()[0] == _sha256(token)  # the command got the real value
    logged = _logged(debug_logs)
    assert token not in logged
    assert fleet.password not in logged


def test_a_secret_env_value_is_sent_but_masked_in_output_results_and_reprs(
    fleet: SSHDFleet, debug_logs: pytest.LogCaptureFixture
) -> None:
    token = _token()
    with Connection(fleet.hosts[0].alias, config=fleet_config(fleet)) as c:
        result = c.run(
            'echo "value=$API_TOKEN"; printf %s "$API_TOKEN" | sha256sum',
            env={"API_TOKEN": Secret(token)},
            hide=True,
        )
    shown, digest = result.stdout.splitlines()
    assert shown == "value=****"
    assert digest.split()[0] == _sha256(token)  # the command got the real value
    assert token not in repr(result.env)
    assert token not in repr(result) and token not in str(result)
    assert token not in _logged(debug_logs)


def test_a_secret_split_across_output_chunks_is_still_masked(fleet: SSHDFleet) -> None:
    token = _token()
    half = len(token) // 2
    with Connection(fleet.hosts[0].alias, config=fleet_config(fleet)) as c:
        result = c.run(
            f"printf %s {token[:half]}; sleep 0.3; printf '%s\\n' {token[half:]}",
            env={"T": Secret(token)},
            hide=True,
        )
    assert result.stdout == "****\n"


def test_a_secret_env_value_is_masked_in_local_output_too() -> None:
    token = _token()
    result = Context().run('echo "$T"', env={"T": Secret(token)}, hide=True)
    assert result.stdout == "****\n"


def test_corral_debug_output_never_shows_an_env_value(fleet: SSHDFleet, tmp_path: Path) -> None:
    token = _token()
    (tmp_path / "corralfile.py").write_text(
        textwrap.dedent(f"""
            from corral import task

            @task
            def deploy(c):
                c.run("echo deployed", env={{"API_TOKEN": "{token}"}})
                c.sudo("true", env={{"API_TOKEN": "{token}"}})
        """)
    )
    proc = subprocess.run(
        [sys.executable, "-m", "corral.cli.main", "-d", "-S", str(fleet.ssh_config_path),
         "-H", fleet.hosts[0].alias, "--set", f"sudo.password={fleet.password}", "deploy"],
        cwd=tmp_path, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "deployed" in proc.stdout
    assert "Command:" in proc.stderr  # -d shows asyncssh's log of each command...
    assert token not in proc.stdout + proc.stderr  # ...without the value


# ---------------------------------------------------------------------- NUL bytes


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda c: c.run("true", env={"TOKEN": "a\0b"}), "host1: env TOKEN: the value contains"),
        (lambda c: c.sudo("true", env={"TOKEN": "a\0b"}), "host1: env TOKEN: the value contains"),
        (lambda c: c.run("echo a\0b"), "host1: command 'echo a\\\\x00b' contains a NUL"),
        (lambda c: c.run(["echo", "a\0b"]), "host1: command .* contains a NUL"),
        (lambda c: c.put(__file__, "/tmp/a\0b"), "host1: put: the remote path"),
        (lambda c: c.get("/tmp/a\0b", "/tmp/x"), "host1: get: the remote path"),
        (lambda c: c.put_template(__file__, "/tmp/\0x"), "host1: put_template: the remote"),
        (lambda c: c.rsync(__file__, "/tmp/a\0b"), "host1: rsync: the target path"),
    ],
    ids=["env", "sudo-env", "command", "argv", "put", "get", "template", "rsync"],
)
def test_a_nul_byte_is_refused_before_anything_is_sent(
    fleet: SSHDFleet, call: object, message: str
) -> None:
    with Connection(fleet.hosts[0].alias, config=fleet_config(fleet)) as c:
        with pytest.raises(ConfigError, match=message):
            call(c)  # type: ignore[operator]
        assert not c.is_connected  # refused before connecting
        assert c.run("echo fine", hide=True).stdout == "fine\n"


def test_a_nul_byte_in_cd_or_prefix_is_refused(fleet: SSHDFleet) -> None:
    with Connection(fleet.hosts[0].alias, config=fleet_config(fleet)) as c:
        with c.cd("/tmp\0x"), pytest.raises(ConfigError, match="host1: cd\\(\\) path"):
            c.run("true")
        with c.prefix("true\0"), pytest.raises(ConfigError, match="host1: prefix\\(\\) command"):
            c.run("true")


def test_a_nul_byte_leaves_no_asyncio_warning_on_stderr(fleet: SSHDFleet, tmp_path: Path) -> None:
    script = tmp_path / "nul.py"
    script.write_text(
        textwrap.dedent(f"""
            import corral
            config = corral.Config(overrides={{"ssh_config_path": {str(fleet.ssh_config_path)!r}}})
            c = corral.Connection({fleet.hosts[0].alias!r}, config=config)
            c.run("true", hide=True)
            for env in ({{"A": "x\\0y"}}, {{"B\\0": "1"}}):
                try:
                    c.run("true", env=env)
                except corral.CorralError as exc:
                    print("refused:", type(exc).__name__)
            c.close()
        """)
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("refused: ConfigError") == 2
    assert proc.stderr == ""  # no "Future exception was never retrieved", no traceback
