"""The pure parts of the operations: the state probe's parser, diffs, the recap (golden text
and JSON), and the commands each package manager and init system is given."""

from __future__ import annotations

import json

import pytest

from corral.events import HostFinished, OperationResult
from corral.operations import OpResult, Recap, recap_json, render_recap
from corral.operations.diff import file_diff
from corral.operations.git import clone_script, parse_probe, resolve
from corral.operations.packages import Apk, Apt, Dnf, Yum
from corral.operations.services import OpenRC, Systemd, SysV, init_for
from corral.operations.state import parse_state, state_script
from corral.operations.tree import Entry, plan


def test_state_probe_output_is_read_back() -> None:
    out = b"file 640 root adm 12 0 4\nreal /etc/x\nsha256 abc\ncontent\nhello\nworld\n"
    state = parse_state("/etc/link", out)
    assert (state.type, state.mode, state.owner, state.group, state.size) == (
        "file", 0o640, "root", "adm", 12,
    )  # fmt: skip
    assert (state.sha256, state.content, state.write_path) == ("abc", b"hello\nworld\n", "/etc/x")
    assert state.owned_by("root", "adm") and state.owned_by("0", "4")
    assert not state.owned_by("www-data", None)
    assert parse_state("/x", b"absent\n").exists is False
    link = parse_state("/l", b"link 777 a b 3 1 1\ntarget r/1\n")
    assert (link.type, link.target) == ("link", "r/1")
    with pytest.raises(ValueError):
        parse_state("/x", b"bash: stat: command not found\n")


def test_the_state_probe_quotes_the_path_and_keeps_a_tilde() -> None:
    script = state_script("~/my file;rm -rf /", sha256=True)
    assert "p=~/'my file;rm -rf /'" in script


def test_diffs_mask_secrets_and_summarise_binary_content() -> None:
    text = file_diff("h:/f", b"a\npw=old\n", b"a\npw=hunter2\n", secrets=["hunter2"])
    assert text == ("--- h:/f (before)\n+++ h:/f (after)\n@@ -1,2 +1,2 @@\n a\n-pw=old\n+pw=****\n")
    assert file_diff("h:/f", b"same", b"same") is None
    binary = file_diff("h:/b", b"\x00\x01", b"\x00\x02")
    assert binary is not None and binary.startswith("Binary file h:/b differs: 2 bytes, sha256 ")
    assert file_diff("h:/n", None, b"x").endswith("+x\n\\ No newline at end of file\n")  # type: ignore[union-attr]


def _op(
    host: str, name: str, changed: bool = False, ok: bool = True, message: str = ""
) -> OpResult:
    operation, _, target = name.partition(" ")
    return OpResult(host, operation, target, changed, ok, message)


def test_the_recap_groups_hosts_with_the_same_outcome() -> None:
    recap = Recap()
    for number in range(1, 6):
        host = f"web{number:02d}"
        recap.add(_op(host, "file /etc/app.conf", changed=number == 4, message="change content"))
        recap.add(_op(host, "package nginx"))
        if number == 5:
            recap.add(_op(host, "service nginx", ok=False, message="nginx did not start"))
    recap.add(_op("db1", "run ./migrate", message="skipped: creates='/srv/done' exists"))
    recap(HostFinished(run_id="r", time=0.0, host="web05", status="failed"))
    assert render_recap(recap) == (
        "RECAP\n"
        "web[01-03] (3)  ok=2    changed=0    failed=0    skipped=0\n"
        "web04 (1)       ok=2    changed=1    failed=0    skipped=0\n"
        "web05 (1)       ok=2    changed=0    failed=1    skipped=0  host failed\n"
        "db1 (1)         ok=0    changed=0    failed=0    skipped=1\n"
        "\n"
        "CHANGED\n"
        "web04 (1)  file /etc/app.conf: change content\n"
        "\n"
        "FAILED\n"
        "web05 (1)  service nginx: nginx did not start\n"
    )
    data = recap_json(recap)
    assert json.loads(json.dumps(data)) == data
    assert data["hosts"]["web04"] == {
        "ok": 2, "changed": 1, "failed": 0, "skipped": 0, "status": None,
    }  # fmt: skip
    assert data["groups"][0] == {
        "hosts": ["web01", "web02", "web03"], "label": "web[01-03]", "ok": 2, "changed": 0,
        "failed": 0, "skipped": 0, "status": None,
    }  # fmt: skip
    assert data["changed"] == [
        {"hosts": ["web04"], "operation": "file /etc/app.conf", "message": "change content"}
    ]


def test_the_recap_consumes_events_and_says_check_mode() -> None:
    recap = Recap(check=True)
    for host in ("a1", "a2"):
        recap(OperationResult(run_id="r", time=0.0, host=host, operation="file /x",
                              changed=True, message="would create"))  # fmt: skip
    assert render_recap(recap).splitlines() == [
        "RECAP (check mode: nothing was changed; changed= is what would change)",
        "a[1-2] (2)  ok=1    changed=1    failed=0    skipped=0",
        "",
        "WOULD CHANGE",
        "a[1-2] (2)  file /x: would create",
    ]
    assert render_recap(Recap()) == ""


APT = "DEBIAN_FRONTEND=noninteractive apt-get -c /t/apt.conf -q -y -o DPkg::Lock::Timeout=300"


@pytest.mark.parametrize(
    ("manager", "install", "remove", "update"),
    [
        (Apt(["-c", "/t/apt.conf"]),
         f"{APT} -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "
         "install -- nginx libfoo1:amd64",
         f"{APT} remove -- nginx libfoo1:amd64",
         f'{APT} update'),
        (Dnf(), "dnf -q -y install -- nginx libfoo1:amd64",
         "dnf -q -y remove -- nginx libfoo1:amd64", "dnf -q -y makecache"),
        (Yum(), "yum -q -y install -- nginx libfoo1:amd64",
         "yum -q -y remove -- nginx libfoo1:amd64", "yum -q -y makecache"),
        (Apk(), "apk add -q -u -- nginx libfoo1:amd64",
         "apk del -q -- nginx libfoo1:amd64", "apk update -q"),
    ],
)  # fmt: skip
def test_each_package_manager_gets_one_batched_command(
    manager: Apt, install: str, remove: str, update: str
) -> None:
    names = ["nginx", "libfoo1:amd64"]
    assert manager.install(names) == install
    assert manager.remove(names) == remove
    assert update in manager.update()


def test_package_probes_are_read_back() -> None:
    apt = Apt().parse(
        "age 120\ninstalled nginx ii 1.22-1\ninstalled curl rc 7.1\n"
        "policy nginx\ncandidate 1.24-1\npolicy zzz\ncandidate (none)\n",
        ["nginx", "curl"],
        ["nginx", "zzz"],
    )
    assert apt.installed == {"nginx": "1.22-1", "curl": None}
    assert apt.candidates == {"nginx": "1.24-1", "zzz": None} and apt.cache_age == 120
    dnf = Dnf().parse(
        "installed bash 5.1-6.el9\ncandidate bash 5.2-1.el9\n", ["bash", "x"], ["bash"]
    )
    assert dnf.installed == {"bash": "5.1-6.el9", "x": None} and dnf.candidates == {
        "bash": "5.2-1.el9"
    }
    apk = Apk().parse(
        "age 5\ninstalled musl-1.2.4-r2\ncandidate musl-1.2.5-r0\n", ["musl"], ["musl"]
    )
    assert apk.installed == {"musl": "1.2.4-r2"} and apk.candidates == {"musl": "1.2.5-r0"}
    assert "command -v apt-get" in Apt().probe(["a"], [])  # a missing manager is reported


@pytest.mark.parametrize(
    ("init", "start", "enable", "disable"),
    [
        (Systemd(), "systemctl start -- app", "systemctl enable -- app",
         "systemctl disable -- app"),
        (OpenRC(), "rc-service app start", "rc-update add app default",
         "rc-update del app default"),
        (SysV(), "service app start", "update-rc.d app defaults && update-rc.d app enable",
         "update-rc.d app disable"),
    ],
)  # fmt: skip
def test_each_init_system_gets_its_own_commands(
    init: Systemd, start: str, enable: str, disable: str
) -> None:
    assert start in init.action("app", "start")
    assert enable in init.enable("app", True)
    assert disable in init.enable("app", False)
    assert "exists" in init.probe("app")
    assert init_for("systemd") == "systemd" and init_for("openrc") == "openrc"
    assert init_for("init") == init_for(None) == "sysv"


def test_git_versions_resolve_to_commits() -> None:
    found = parse_probe(
        "head aaa\norigin /r.git\nbranch main\nref 1111\tHEAD\nref 2222\trefs/heads/main\n"
        "ref 3333\trefs/tags/v1\nref 4444\trefs/tags/v1^{}\n"
    )
    assert (found["head"], found["branch"], found["dirty"]) == ("aaa", "main", False)
    assert resolve("main", found["refs"]) == ("2222", "branch")
    assert resolve("v1", found["refs"]) == ("4444", "tag")  # an annotated tag's commit
    assert resolve("HEAD", found["refs"]) == ("1111", "head")
    assert resolve("a" * 40, {}) == ("a" * 40, "commit")
    assert resolve("nope", found["refs"]) == (None, "unknown")
    assert "--branch v1" in clone_script("/r.git", "/d", "v1", "tag", None)


def test_a_tree_plan_sends_only_what_differs() -> None:
    local = {
        "a": Entry("d", 0o755),
        "a/same": Entry("f", 0o644, sha256="s1"),
        "a/new": Entry("f", 0o644, sha256="s2"),
        "a/moded": Entry("f", 0o600, sha256="s3"),
        "link": Entry("l", target="a/same"),
    }
    remote = {
        "a": Entry("d", 0o755, "u", "g"),
        "a/same": Entry("f", 0o644, "u", "g", sha256="s1"),
        "a/moded": Entry("f", 0o644, "u", "g", sha256="s3"),
        "link": Entry("f", 0o644, "u", "g", sha256="zz"),
        "extra": Entry("f", 0o644, "u", "g", sha256="s9"),
        "keep.log": Entry("f", 0o644, "u", "g", sha256="s9"),
    }
    todo = plan(local, remote, owner=None, group=None, delete=True, exclude=["*.log"])
    assert todo.send == ["a/new", "link"] and todo.replace == ["link"]
    assert todo.chmod == [("a/moded", 0o600)] and todo.delete == ["extra"]
    assert todo.summary() == "2 files sent, 1 mode set, 1 deleted"
    same = plan(local, {**local}, owner=None, group=None, delete=False, exclude=[])
    assert not same


def test_the_package_manager_is_found_by_the_facts_rule_in_the_reading_probe() -> None:
    from corral.operations.packages import detect_script

    script = detect_script([], ["bash"])
    order = [script.index(f"command -v {tool} ") for tool in ("apt-get", "dnf", "yum", "apk")]
    assert order == sorted(order)  # as the facts probe: apt-get, dnf, yum, ..., apk
    assert script.rstrip().endswith("else echo corral:manager none; fi")
