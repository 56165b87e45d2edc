"""Connection against real OpenSSH sshd: settings, reuse, run options, output, env, stdin."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import corral.aio
from corral import Config, Connection, Responder, UnexpectedExit
from corral.errors import ConfigError
from corral.runner.options import Hide
from corral.testing.fleet import SSHDFleet

from .conftest import fleet_config


def test_alias_resolves_through_ssh_config(fleet: SSHDFleet, config: Config) -> None:
    host = fleet.hosts[0]
    with Connection(host.alias, config=config) as c:
        assert c.original_host == host.alias
        assert c.host == host.address
        assert c.port == host.port
        assert c.user == fleet.user
        result = c.run("echo $SSH_CONNECTION; whoami", hide=True)
    server_address = result.stdout.split()[2]
    assert server_address == host.address
    assert result.stdout.split()[-1] == fleet.user
    assert result.ok and result.exited == 0 and result.return_code == 0
    assert result.connection is c


def test_explicit_arguments_override_ssh_config(fleet: SSHDFleet, config: Config) -> None:
    host = fleet.hosts[0]
    c = Connection(f"nobody@{host.alias}:2", config=config)
    assert (c.user, c.port, c.host) == ("nobody", 2, host.address)
    c = Connection(host.alias, user="someone", port=23, config=config)
    assert (c.user, c.port) == ("someone", 23)


def test_host_string_and_keyword_for_the_same_setting_is_an_error(config: Config) -> None:
    with pytest.raises(ConfigError, match="port"):
        Connection("web:22", port=23, config=config)


def test_plain_address_with_explicit_key_and_known_hosts(fleet: SSHDFleet, tmp_path: Path) -> None:
    host = fleet.hosts[1]
    ssh_config = tmp_path / "ssh_config"
    ssh_config.write_text(f"Host *\n  UserKnownHostsFile {fleet.known_hosts_path}\n")
    c = Connection(
        host.host_string,
        config=Config(overrides={"ssh_config_path": str(ssh_config)}),
        connect_kwargs={"key_filename": str(fleet.key_path)},
    )
    with c:
        assert c.run("echo ok", hide=True).stdout == "ok\n"


def test_many_commands_share_one_ssh_connection(fleet: SSHDFleet, config: Config) -> None:
    with Connection(fleet.hosts[0].alias, config=config) as c:
        assert not c.is_connected  # lazy: nothing opened yet
        ports = {c.run("echo $SSH_CONNECTION", hide=True).stdout.split()[1] for _ in range(5)}
        assert c.is_connected
    assert len(ports) == 1  # same client port: one TCP connection, one channel per command
    assert not c.is_connected


def test_close_then_run_reopens(fleet: SSHDFleet, config: Config) -> None:
    c = Connection(fleet.hosts[0].alias, config=config)
    first = c.run("echo $SSH_CONNECTION", hide=True).stdout.split()[1]
    c.close()
    assert not c.is_connected
    second = c.run("echo $SSH_CONNECTION", hide=True).stdout.split()[1]
    c.close()
    assert first != second


def test_non_zero_exit_raises_unexpected_exit_naming_host_command_status_and_stderr(
    fleet: SSHDFleet, config: Config
) -> None:
    with Connection(fleet.hosts[0].alias, config=config) as c:
        with pytest.raises(UnexpectedExit) as info:
            c.run("echo first >&2; echo the-reason >&2; exit 7", hide=True)
        result = c.run("exit 3", warn=True, hide=True)
    message = str(info.value)
    assert fleet.hosts[0].alias in message
    assert "exit 7" in message and "status 7" in message and "the-reason" in message
    assert info.value.result.exited == 7
    assert info.value.result.stderr == "first\nthe-reason\n"
    assert (result.exited, result.ok, result.failed, bool(result)) == (3, False, True, False)


def test_hide_options_route_output(fleet: SSHDFleet, config: Config) -> None:
    out, err = io.StringIO(), io.StringIO()
    with Connection(fleet.hosts[0].alias, config=config) as c:
        cmd = "echo to-out; echo to-err >&2"
        shown = c.run(cmd, out_stream=out, err_stream=err)
        assert (out.getvalue(), err.getvalue()) == ("to-out\n", "to-err\n")
        cases: list[tuple[Hide, str, str]] = [
            (True, "", ""),
            ("both", "", ""),
            ("out", "", "to-err\n"),
            ("stdout", "", "to-err\n"),
            ("err", "to-out\n", ""),
            (False, "to-out\n", "to-err\n"),
            (None, "to-out\n", "to-err\n"),
        ]
        for hide, want_out, want_err in cases:
            out, err = io.StringIO(), io.StringIO()
            result = c.run(cmd, hide=hide, out_stream=out, err_stream=err)
            assert (out.getvalue(), err.getvalue()) == (want_out, want_err), hide
            assert (result.stdout, result.stderr) == ("to-out\n", "to-err\n")
    assert (shown.stdout, shown.stderr) == ("to-out\n", "to-err\n")


def test_echo_prints_the_command(
    fleet: SSHDFleet, config: Config, capsys: pytest.CaptureFixture[str]
) -> None:
    with Connection(fleet.hosts[0].alias, config=config) as c:
        c.run("true", echo=True, echo_format="RUN: {command}")
        with c.cd("/tmp"):
            c.run("true", echo=True, echo_format="RUN: {command}", env={"SECRETISH": "v"})
    assert capsys.readouterr().out == "RUN: true\nRUN: cd /tmp && true\n"


def test_env_arrives_without_accept_env_and_values_are_quoted(
    fleet: SSHDFleet, config: Config, tmp_path: Path
) -> None:
    hostile = "a b; touch /tmp/corral-injected-$$ && echo pwned"
    with Connection(fleet.hosts[0].alias, config=config) as c:
        result = c.run(
            'printf "%s|%s" "$GREETING" "$HOSTILE"',
            env={"GREETING": "hello world", "HOSTILE": hostile},
            hide=True,
        )
        injected = c.run("ls /tmp | grep -c corral-injected || true", hide=True).stdout
    assert result.stdout == f"hello world|{hostile}"
    assert injected.strip() == "0"


def test_env_request_needs_accept_env_when_inline_env_is_off(
    fleet: SSHDFleet, config: Config
) -> None:
    # The fleet's sshd has no AcceptEnv: the SSH env request is dropped, as OpenSSH does.
    c = Connection(fleet.hosts[0].alias, config=config, inline_ssh_env=False)
    with c:
        assert c.run('echo "[$GREETING]"', env={"GREETING": "hi"}, hide=True).stdout == "[]\n"


def test_cd_and_prefix_apply_to_run(fleet: SSHDFleet, config: Config) -> None:
    with Connection(fleet.hosts[0].alias, config=config) as c:
        c.run("mkdir -p 'dir with space/sub'", hide=True)
        with c.cd("dir with space"):
            assert c.run('basename "$PWD"', hide=True).stdout == "dir with space\n"
            with c.cd("sub"), c.prefix("export MARK=prefixed"):
                result = c.run('echo "$(basename "$PWD") $MARK"', hide=True)
        assert result.stdout == "sub prefixed\n"
        assert c.run("pwd", hide=True).stdout.strip() == str(fleet.home)


def test_argv_list_commands_are_quoted(fleet: SSHDFleet, config: Config) -> None:
    words = ["a b", "$(id)", "`id`", "it's", "semi;colon", "汉语", "-n"]
    with Connection(fleet.hosts[0].alias, config=config) as c:
        result = c.run(["printf", "%s\\n", *words], hide=True)
    assert result.stdout.splitlines() == words


def test_non_utf8_output_does_not_break_the_connection(fleet: SSHDFleet, config: Config) -> None:
    with Connection(fleet.hosts[0].alias, config=config) as c:
        result = c.run(r"printf 'ok\377\376end\n'; printf 'e\377\n' >&2", hide=True)
        assert result.stdout_bytes == b"ok\xff\xfeend\n"
        assert result.stdout == "ok\ufffd\ufffdend\n"
        assert result.stderr == "e\ufffd\n"
        assert c.run("echo still-alive", hide=True).stdout == "still-alive\n"


def test_multibyte_output_and_latin1_encoding(fleet: SSHDFleet, config: Config) -> None:
    with Connection(fleet.hosts[0].alias, config=config) as c:
        assert c.run("printf 'h\\303\\251 \\346\\261\\211'", hide=True).stdout == "hé 汉"
        latin = c.run(r"printf 'caf\351'", hide=True, encoding="latin-1")
    assert latin.stdout == "café"


def test_binary_out_stream_gets_exact_bytes(fleet: SSHDFleet, config: Config) -> None:
    sink = io.BytesIO()
    with Connection(fleet.hosts[0].alias, config=config) as c:
        c.run(r"printf '\000\377\001'", out_stream=sink)
    assert sink.getvalue() == b"\x00\xff\x01"


def test_pty_gives_a_terminal(fleet: SSHDFleet, config: Config) -> None:
    with Connection(fleet.hosts[0].alias, config=config) as c:
        with_pty = c.run("tty; echo err >&2", pty=True, hide=True)
        without = c.run("tty", warn=True, hide=True)
    assert with_pty.stdout.startswith("/dev/pts/")
    assert "err" in with_pty.stdout  # a pty merges stderr into stdout
    assert with_pty.pty is True
    assert without.exited != 0


def test_responder_answers_a_prompt(fleet: SSHDFleet, config: Config) -> None:
    script = 'printf "Continue? [y/n] "; read answer; echo "got:$answer"'
    watcher = Responder(r"Continue\? \[y/n\] ", "y\n")
    with Connection(fleet.hosts[0].alias, config=config) as c:
        result = c.run(script, watchers=[watcher], hide=True, timeout=20)
        assert result.stdout.endswith("got:y\n")
        piped = c.run("cat", in_stream=io.StringIO("fed via in_stream\n"), hide=True)
    assert piped.stdout == "fed via in_stream\n"


def test_default_stdin_is_eof_under_pytest_capture(fleet: SSHDFleet, config: Config) -> None:
    # pytest replaced sys.stdin with an object that raises on read; `cat` must see EOF.
    with Connection(fleet.hosts[0].alias, config=config) as c:
        assert c.run("cat; echo done", hide=True, timeout=20).stdout == "done\n"


SCRIPT = """
import sys
from corral import Config, Connection
c = Connection({alias!r}, config=Config(overrides={{"ssh_config_path": {cfg!r}}}))
r = c.run("cat; echo finished", hide=True, timeout=20)
print(r.stdout.strip())
{tail}
"""


@pytest.mark.parametrize("stdin", ["devnull", "closed", "pipe"])
def test_scripts_work_with_stdin_devnull_closed_or_piped(
    fleet: SSHDFleet, stdin: str, tmp_path: Path
) -> None:
    script = tmp_path / "script.py"
    tail = ""
    script.write_text(
        SCRIPT.format(alias=fleet.hosts[0].alias, cfg=str(fleet.ssh_config_path), tail=tail)
    )
    if stdin == "closed":
        command = f"exec 0<&-; {sys.executable} {script}"
        proc = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=60)
    elif stdin == "devnull":
        proc = subprocess.run(
            [sys.executable, str(script)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    else:
        proc = subprocess.run(
            [sys.executable, str(script)],
            input="piped text is not a terminal\n",
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("finished")


def test_interpreter_exits_promptly_with_a_connection_left_open(
    fleet: SSHDFleet, tmp_path: Path
) -> None:
    script = tmp_path / "leave_open.py"
    script.write_text(
        SCRIPT.format(
            alias=fleet.hosts[0].alias,
            cfg=str(fleet.ssh_config_path),
            tail="c.run('true')  # connection deliberately left open",
        )
    )
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""


def test_sync_api_from_many_threads_at_once(fleet: SSHDFleet, config: Config) -> None:
    results: dict[int, str] = {}
    errors: list[BaseException] = []
    shared = Connection(fleet.hosts[0].alias, config=config)

    def work(i: int) -> None:
        try:
            own = Connection(fleet.hosts[i % len(fleet.hosts)].alias, config=config)
            with own:
                a = own.run(f"echo own-{i}", hide=True).stdout.strip()
            b = shared.run(f"echo shared-{i}", hide=True).stdout.strip()
            results[i] = f"{a},{b}"
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    shared.close()
    assert not errors, errors
    assert results == {i: f"own-{i},shared-{i}" for i in range(12)}


def test_sync_api_from_a_running_event_loops_thread_pool(fleet: SSHDFleet, config: Config) -> None:
    async def main() -> list[str]:
        c = Connection(fleet.hosts[0].alias, config=config)
        try:
            outs = await asyncio.gather(
                *(asyncio.to_thread(c.run, f"echo {i}", hide=True) for i in range(4))
            )
        finally:
            await asyncio.to_thread(c.close)
        return [r.stdout.strip() for r in outs]

    assert asyncio.run(main()) == ["0", "1", "2", "3"]


async def test_aio_connection_runs_commands_concurrently(fleet: SSHDFleet, config: Config) -> None:
    async with corral.aio.Connection(fleet.hosts[0].alias, config=config) as c:
        results = await asyncio.gather(*(c.run(f"echo {i}", hide=True) for i in range(25)))
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(25)]


def test_more_concurrent_commands_than_the_servers_max_sessions(make_fleet) -> None:
    small = make_fleet(1, sshd_options={"MaxSessions": "3"})
    config = fleet_config(small, max_sessions=10)  # corral assumes more than sshd allows

    async def main() -> list[str]:
        async with corral.aio.Connection(small.hosts[0].alias, config=config) as c:
            results = await asyncio.gather(
                *(c.run(f"sleep 0.3; echo {i}", hide=True) for i in range(9))
            )
        return [r.stdout for r in results]

    assert asyncio.run(main()) == [f"{i}\n" for i in range(9)]


def test_large_output_is_captured_completely(fleet: SSHDFleet, config: Config) -> None:
    with Connection(fleet.hosts[0].alias, config=config) as c:
        result = c.run("head -c 50000000 /dev/zero | tr '\\0' 'x'; echo", hide=True, timeout=100)
    assert len(result.stdout) == 50_000_001
    assert not result.stdout_truncated


def test_output_to_a_stream_keeps_only_a_bounded_tail_in_memory(
    fleet: SSHDFleet, config: Config, tmp_path: Path
) -> None:
    target = (tmp_path / "out.txt").open("w")
    with Connection(fleet.hosts[0].alias, config=config) as c:
        result = c.run("seq 1 3000000", out_stream=target, capture_limit=4096, timeout=100)
    target.close()
    assert (tmp_path / "out.txt").read_text().endswith("2999999\n3000000\n")
    assert result.stdout_truncated
    assert len(result.stdout_bytes) == 4096
    assert result.stdout.endswith("3000000\n")


def test_local_runs_on_this_machine_with_the_same_options(fleet: SSHDFleet, config: Config) -> None:
    c = Connection(fleet.hosts[0].alias, config=config)
    result = c.local(
        "echo $CORRAL_LOCAL; hostname -I >/dev/null 2>&1; exit 4",
        env={"CORRAL_LOCAL": "yes"},
        warn=True,
        hide=True,
    )
    assert (result.stdout, result.exited, result.host) == ("yes\n", 4, "local")
    assert not c.is_connected
    with pytest.raises(UnexpectedExit):
        c.local("false", hide=True)
    assert c.local("tty", pty=True, hide=True).stdout.startswith("/dev/pts/")
    assert c.local("cat; echo eof", hide=True, timeout=10).stdout == "eof\n"


def test_script_written_like_fabric_ports_by_changing_the_import(
    fleet: SSHDFleet, tmp_path: Path
) -> None:
    script = tmp_path / "fabric_style.py"
    script.write_text(
        textwrap.dedent(
            f"""
            from corral import Connection, Config
            config = Config(overrides={{"ssh_config_path": {str(fleet.ssh_config_path)!r}}})
            c = Connection({fleet.hosts[0].alias!r}, config=config)
            result = c.run("uname -s", hide=True)
            msg = "Ran {{0.command!r}} on {{0.connection.host}}, got stdout:\\n{{0.stdout}}"
            print(msg.format(result))
            """
        )
    )
    proc = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ},
    )
    assert proc.returncode == 0, proc.stderr
    assert f"on {fleet.hosts[0].address}, got stdout:\nLinux" in proc.stdout


def test_ssh_config_include_and_match_are_honoured(fleet: SSHDFleet, tmp_path: Path) -> None:
    host = fleet.hosts[1]
    included = tmp_path / "hosts.conf"
    included.write_text(f"Host app\n  HostName {host.address}\n")
    main = tmp_path / "ssh_config"
    main.write_text(
        f"Include {included}\n"
        f"Match originalhost app\n  Port {host.port}\n  User {fleet.user}\n"
        f"Host *\n  IdentityFile {fleet.key_path}\n  UserKnownHostsFile {fleet.known_hosts_path}\n"
    )
    with Connection("app", config=Config(overrides={"ssh_config_path": str(main)})) as c:
        assert (c.host, c.port, c.user) == (host.address, host.port, fleet.user)
        assert c.run("echo $SSH_CONNECTION", hide=True).stdout.split()[2] == host.address


def test_load_ssh_configs_off_ignores_every_file(fleet: SSHDFleet) -> None:
    config = Config(
        overrides={"load_ssh_configs": False, "ssh_config_path": str(fleet.ssh_config_path)}
    )
    c = Connection(fleet.hosts[0].alias, config=config)
    assert c.host == fleet.hosts[0].alias  # no alias resolution
    assert c.port == 22


def test_dry_run_prints_transfers_and_commands_and_changes_nothing(
    fleet: SSHDFleet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    local = tmp_path / "f.txt"
    local.write_text("x")
    config = fleet_config(fleet, run={"dry": True})
    c = Connection(fleet.hosts[0].alias, config=config)
    c.put(str(local), "dry-run-target.txt")
    c.run("touch dry-run-touched")
    assert not c.is_connected
    out = capsys.readouterr().out
    assert f"[{fleet.hosts[0].alias}] put {local} -> dry-run-target.txt" in out
    assert f"[{fleet.hosts[0].alias}] touch dry-run-touched" in out
    assert (
        fleet.run_as_user("ls ~/dry-run-target.txt ~/dry-run-touched 2>&1 || true").stdout.count(
            "No such file"
        )
        == 2
    )


def test_aes_gcm_is_preferred_where_the_cpu_has_aes(fleet: SSHDFleet, config: Config) -> None:
    with open("/proc/cpuinfo") as cpuinfo:
        has_aes = any(line.startswith(("flags", "Features")) and " aes" in line for line in cpuinfo)
    with Connection(fleet.hosts[0].alias, config=config) as c:
        c.run("true")
        transport = c._async._transport
        assert transport is not None
        cipher = transport.tunnel_connection().get_extra_info("send_cipher")
    assert cipher == ("aes128-gcm@openssh.com" if has_aes else "chacha20-poly1305@openssh.com")


@pytest.mark.parametrize(
    "command",
    ["touch {d}/one; touch {d}/two", "touch {d}/one\ntouch {d}/two", "false || touch {d}/one"],
    ids=["semicolon", "lines", "or"],
)
def test_no_part_of_a_command_runs_when_its_cd_fails(
    fleet: SSHDFleet, config: Config, command: str
) -> None:
    import shutil
    import tempfile

    where = Path(tempfile.mkdtemp(prefix="corral-cd-", dir="/tmp"))
    where.chmod(0o777)  # the hosts' login user writes here (the hosts are this machine)
    try:
        with Connection(fleet.hosts[0].alias, config=config) as c:
            with c.cd("/nonexistent-dir"):
                result = c.run(command.format(d=where), warn=True, hide=True)
            with c.prefix("false"):
                c.run(command.format(d=where), warn=True, hide=True)
            assert result.failed
            assert list(where.iterdir()) == []  # no part of it ran
            c.run(command.format(d=where), warn=True, hide=True)  # with no guard, it writes
            assert (where / "one").exists()
    finally:
        shutil.rmtree(where, ignore_errors=True)
