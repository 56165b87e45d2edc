"""Path logic of put/get: remote resolution, local placeholders, listings, temp names, hashes."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from corral.remote.transfer import (
    check_listing,
    default_mode,
    expand_local,
    install_script,
    parse_sha256sum,
    resolve_remote,
    temp_name,
)

HOME = "/home/u"


@pytest.mark.parametrize(
    ("remote", "cwd", "expected"),
    [
        (None, None, ("/home/u", True)),
        ("", None, ("/home/u", True)),
        (None, "/srv", ("/srv", True)),
        ("f", None, ("/home/u/f", False)),
        ("f", "/srv", ("/srv/f", False)),
        ("f", "rel", ("/home/u/rel/f", False)),
        ("f", "~/x", ("/home/u/x/f", False)),
        ("f", "~", ("/home/u/f", False)),
        ("/abs/f", "/srv", ("/abs/f", False)),
        ("~", "/srv", ("/home/u", False)),
        ("~/f", "/srv", ("/home/u/f", False)),
        ("d/", None, ("/home/u/d", True)),
        ("a/../b", "/srv", ("/srv/b", False)),
        ("a b/-c;$(x)", None, ("/home/u/a b/-c;$(x)", False)),
    ],
)
def test_resolve_remote(remote: str | None, cwd: str | None, expected: tuple[str, bool]) -> None:
    assert resolve_remote(remote, cwd, HOME) == expected


VALUES = {
    "host": "web1",
    "user": "deploy",
    "port": "22",
    "basename": "app.log",
    "dirname": "/var/log",
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("out/{host}/{basename}", "out/web1/app.log"),
        ("out/{user}@{host}:{port}", "out/deploy@web1:22"),
        ("out/{host}{dirname}/{basename}", "out/web1/var/log/app.log"),
        ("{host}.log", "web1.log"),
        ("plain/path.txt", "plain/path.txt"),
        ("lit/{{host}}", "lit/{host}"),
    ],
)
def test_expand_local(template: str, expected: str) -> None:
    assert expand_local(template, VALUES) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("host", ".."),
        ("host", "."),
        ("host", "a/b"),
        ("host", "/etc"),
        ("host", "a\\b"),
        ("host", "a\0b"),
        ("host", ""),
        ("user", "../../root"),
        ("basename", ".."),
        ("dirname", "/var/../../etc"),
        ("dirname", "/var/\0"),
    ],
)
def test_expand_local_refuses_values_that_move_the_path(name: str, value: str) -> None:
    template = "out/{host}/{user}/{dirname}/{basename}"
    with pytest.raises(ValueError, match=f"{{{name}}} value"):
        expand_local(template, {**VALUES, name: value})


@pytest.mark.parametrize("template", ["out/{nope}", "out/{host!r}", "out/{host:>10}"])
def test_expand_local_refuses_unknown_or_formatted_placeholders(template: str) -> None:
    with pytest.raises(ValueError, match="unknown placeholder"):
        expand_local(template, VALUES)


def test_expand_local_result_stays_under_the_directory_before_the_first_placeholder() -> None:
    assert expand_local("out/x{host}", VALUES) == "out/xweb1"  # anchored at "out"
    assert expand_local("out/{dirname}", {**VALUES, "dirname": ""}) == "out/"
    with pytest.raises(ValueError, match="would leave"):
        expand_local("{dirname}/{basename}", VALUES)  # anchored at the current directory


def test_check_listing_skips_dot_entries_and_keeps_order() -> None:
    assert check_listing([".", "b", "..", "a"], "/d") == ["b", "a"]


@pytest.mark.parametrize(
    "names",
    [["../x"], ["a/b"], ["/etc/passwd"], ["a\\b"], ["nul\0"], [""], ["x", "x"]],
)
def test_check_listing_refuses_hostile_names(names: list[str]) -> None:
    with pytest.raises(ValueError, match="/srv/d"):
        check_listing(["fine", *names], "/srv/d")


def test_temp_name_is_hidden_keeps_the_extension_and_fits_name_max() -> None:
    assert temp_name("nginx.conf", "ab12") == ".corral-ab12-nginx.conf"
    long = "é" * 200 + ".conf"
    name = temp_name(long, "0123456789abcdef")
    assert len(name.encode()) <= 255
    assert name.startswith(".corral-0123456789abcdef-") and name.endswith("é.conf")


def test_parse_sha256sum_reads_nul_records_with_any_name() -> None:
    a, b = "a" * 64, "B" * 64
    output = f"{a}  plain\0{b} *with space\nand newline\0garbage\0".encode()
    assert parse_sha256sum(output) == {"plain": a, "with space\nand newline": b.lower()}


def test_default_mode_applies_the_umask() -> None:
    old = os.umask(0o027)
    try:
        assert default_mode() == 0o640
    finally:
        os.umask(old)


# install_script is run here with sh, as root would run it on the host


def run_script(script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["sh", "-c", script], capture_output=True, text=True, check=False)


@pytest.fixture
def staged(tmp_path: Path) -> Path:
    path = tmp_path / "staging" / "upload"
    path.parent.mkdir()
    path.write_text("new\n")
    return path


def test_install_script_replaces_the_file_keeping_its_mode(staged: Path, tmp_path: Path) -> None:
    target = tmp_path / "conf"
    target.write_text("old\n")
    target.chmod(0o640)
    done = run_script(install_script(str(staged), str(target), "conf", into_directory=False))
    assert done.returncode == 0, done.stderr
    assert target.read_text() == "new\n" and stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["conf", "staging"]


def test_install_script_into_a_directory_with_mode(staged: Path, tmp_path: Path) -> None:
    script = install_script(str(staged), str(tmp_path), "app.conf", into_directory=True, mode=0o600)
    done = run_script(script)
    assert done.returncode == 0 and done.stdout.startswith("corral:into-directory")
    assert stat.S_IMODE((tmp_path / "app.conf").stat().st_mode) == 0o600


def test_install_script_missing_directory_exits_3(staged: Path, tmp_path: Path) -> None:
    script = install_script(str(staged), str(tmp_path / "no" / "f"), "f", into_directory=False)
    assert run_script(script).returncode == 3


def test_install_script_validation_failure_exits_4_and_keeps_the_target(
    staged: Path, tmp_path: Path
) -> None:
    target = tmp_path / "conf"
    target.write_text("old\n")
    script = install_script(
        str(staged), str(target), "conf", into_directory=False,
        validate="grep -q old {path} || { echo 'rejected' >&2; exit 9; }",
    )  # fmt: skip
    done = run_script(script)
    assert done.returncode == 4 and "corral:invalid:9" in done.stderr and "rejected" in done.stderr
    assert target.read_text() == "old\n"
    assert sorted(os.listdir(tmp_path)) == ["conf", "staging"]


def test_install_script_only_changed_reports_unchanged(staged: Path, tmp_path: Path) -> None:
    target = tmp_path / "conf"
    target.write_text("new\n")
    target.chmod(0o644)
    script = install_script(
        str(staged), str(target), "conf", into_directory=False, mode=0o644, only_changed=True
    )
    done = run_script(script)
    assert done.returncode == 0 and "corral:unchanged" in done.stdout


def test_install_script_quotes_hostile_paths(staged: Path, tmp_path: Path) -> None:
    odd = tmp_path / "a b;$(touch pwned)'"
    odd.mkdir()
    done = run_script(install_script(str(staged), str(odd), "x y", into_directory=True))
    assert done.returncode == 0, done.stderr
    assert (odd / "x y").read_text() == "new\n" and not Path("pwned").exists()
