"""corral's pytest plugin as users meet it: a test file in a fresh project, run by pytest in a
subprocess (pytester), using corral_fleet / corral_hosts / corral_config / mock_context."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from corral.testing.fleet import sshd_available

INI = """
[pytest]
addopts = --strict-markers -p no:cacheprovider -p no:asyncio
filterwarnings = error
{extra}
"""

USER_TEST = """
import json
from pathlib import Path

from corral import Connection, Group


def test_every_host_answers_on_its_own_address(corral_fleet, corral_config):
    for host in corral_fleet.hosts:
        with Connection(host.alias, config=corral_config) as c:
            result = c.run("echo $SSH_CONNECTION", hide=True)
        assert result.stdout.split()[2] == host.address
    state = {
        "kind": type(corral_fleet).__name__,
        "hosts": [h.alias for h in corral_fleet.hosts],
        "directory": str(corral_fleet.directory),
        "listeners": getattr(corral_fleet, "listener_pids", lambda: [])(),
        "server": getattr(corral_fleet, "pid", None),
    }
    Path("fleet.json").write_text(json.dumps(state))


def test_a_group_over_the_hosts(corral_hosts, corral_config):
    with Group(*(h.alias for h in corral_hosts), config=corral_config) as group:
        results = group.run("echo ok", hide=True)
    assert sorted(r.stdout for r in results.values()) == ["ok\\n"] * len(corral_hosts)
"""


def _run(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_subprocess("-v", *args, timeout=120)


def _process_running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")


def test_a_users_tests_run_commands_on_each_host_of_the_fleet(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest=INI.format(extra=""))
    pytester.makepyfile(test_hosts=USER_TEST)
    result = _run(pytester)
    result.assert_outcomes(passed=2)
    state = json.loads((pytester.path / "fleet.json").read_text())
    assert state["hosts"] == ["host1", "host2", "host3"]  # the default size
    assert state["kind"] == ("SSHDFleet" if sshd_available() else "EmbeddedFleet")
    # the session's end stopped the fleet: its processes and its directory are gone
    assert not Path(state["directory"]).exists()
    pids = [*state["listeners"], *([state["server"]] if state["server"] else [])]
    assert pids and not any(_process_running(pid) for pid in pids)


def test_the_embedded_server_can_be_chosen_with_an_ini_option(pytester: pytest.Pytester) -> None:
    extra = "corral_fleet_server = embedded\ncorral_fleet_hosts = 2"
    pytester.makefile(".ini", pytest=INI.format(extra=extra))
    pytester.makepyfile(test_hosts=USER_TEST)
    _run(pytester).assert_outcomes(passed=2)
    state = json.loads((pytester.path / "fleet.json").read_text())
    assert (state["kind"], state["hosts"]) == ("EmbeddedFleet", ["host1", "host2"])


def test_the_fleet_is_sized_by_the_ini_option_and_the_largest_marker(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".ini", pytest=INI.format(extra="corral_fleet_hosts = 2"))
    pytester.makepyfile(
        test_sizes="""
        import pytest

        def test_default(corral_fleet, corral_hosts):
            assert len(corral_fleet.hosts) == 5  # one fleet, big enough for every test
            assert [h.alias for h in corral_hosts] == ["host1", "host2"]

        @pytest.mark.corral_fleet_hosts(5)
        def test_marked(corral_hosts):
            assert [h.alias for h in corral_hosts] == [f"host{i}" for i in range(1, 6)]

        @pytest.mark.corral_fleet_hosts(4)
        class TestClass:
            def test_in_class(self, corral_hosts):
                assert len(corral_hosts) == 4
        """
    )
    _run(pytester).assert_outcomes(passed=3)


def test_a_bad_marker_or_ini_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest=INI.format(extra=""))
    pytester.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.corral_fleet_hosts("many")
        def test_it(corral_fleet):
            pass
        """
    )
    result = _run(pytester)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*test_bad.py::test_it: @pytest.mark.corral_fleet_hosts takes one number >= 1*"]
    )
    pytester.makefile(".ini", pytest=INI.format(extra="corral_fleet_hosts = zero"))
    result = _run(pytester, "-k", "nothing")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*corral_fleet_hosts = 'zero': expected a number >= 1*"])


def test_where_no_fleet_can_run_the_tests_are_skipped_with_the_reason(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".ini", pytest=INI.format(extra="corral_fleet_server = sshd"))
    pytester.makeconftest(
        """
        import corral.testing.fleet.listener

        # as on a machine without root or sshd
        corral.testing.fleet.listener.unavailable_reason = lambda: "no sshd on this test machine"
        """
    )
    pytester.makepyfile(test_hosts=USER_TEST)
    result = _run(pytester, "-rs")
    result.assert_outcomes(skipped=2)
    result.stdout.fnmatch_lines(["*corral_fleet: *no sshd on this test machine*"])


def test_the_mock_context_fixture(pytester: pytest.Pytester) -> None:
    pytester.makefile(".ini", pytest=INI.format(extra=""))
    pytester.makepyfile(
        test_mock="""
        import re

        def restart(c, service):
            if c.run(f"systemctl is-active {service}", warn=True).ok:
                c.sudo(f"systemctl restart {service}")

        def test_restart_restarts_an_active_service(mock_context):
            mock_context.set_result_for("run", re.compile("systemctl is-active "), True)
            mock_context.set_result_for("sudo", "systemctl restart web", True)
            restart(mock_context, "web")
            mock_context.sudo.assert_called_once_with("systemctl restart web")

        def test_restart_leaves_a_stopped_service(mock_context):
            mock_context.set_result_for("run", "systemctl is-active web", False)
            restart(mock_context, "web")
            assert not mock_context.sudo.called
        """
    )
    _run(pytester).assert_outcomes(passed=2)


def test_the_plugin_is_registered_for_pytest() -> None:
    from importlib.metadata import entry_points

    found = [e.value for e in entry_points(group="pytest11") if e.name == "corral"]
    assert found == ["corral.testing.plugin"]


FAULTS_TEST = """
import pytest
from corral import Connection
from corral.errors import ConnectTimeout
from corral.testing import faults

KEPT = {}


def state(pid):
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


def test_a_blackholed_host_times_out(corral_faults, corral_config):
    hole = corral_faults.blackhole()
    with pytest.raises(ConnectTimeout):
        Connection(hole.host_string, config=corral_config, connect_timeout=1).run("true")


def test_freeze_a_hosts_sessions(corral_hosts, corral_config, corral_faults):
    c = KEPT["c"] = Connection(corral_hosts[0].alias, config=corral_config)
    c.run("true", hide=True)
    KEPT["pids"] = list(faults.session_processes(corral_hosts[0]))
    assert corral_faults.freeze(corral_hosts[0]) == len(KEPT["pids"]) >= 2
    assert {state(pid) for pid in KEPT["pids"]} == {"T"}


def test_the_fixture_thawed_them(corral_hosts):
    assert "T" not in {state(pid) for pid in KEPT.pop("pids")}
    c = KEPT.pop("c")
    assert c.run("echo thawed", hide=True).stdout == "thawed\\n"
    c.close()
"""


@pytest.mark.needs("sshd")
def test_the_fault_kit_fixture_undoes_its_faults_after_each_test(
    pytester: pytest.Pytester,
) -> None:
    pytester.makefile(".ini", pytest=INI.format(extra="corral_fleet_server = sshd"))
    pytester.makepyfile(test_faults=FAULTS_TEST)
    _run(pytester).assert_outcomes(passed=3)
