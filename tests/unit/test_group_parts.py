import io

import pytest

from corral.errors import ConfigError, HostSkipped, UnexpectedExit
from corral.remote.group import count_of
from corral.result import GroupResult, Result, compress_hosts
from corral.runner.prefix import PrefixedStream, escape_controls


@pytest.mark.parametrize(
    ("names", "expected"),
    [
        (["web01", "web02", "web03"], "web[01-03]"),
        (["web01", "web02", "web04", "web05", "web09"], "web[01-02,04-05,09]"),
        (["web1", "web2", "web10"], "web[1-2,10]"),
        (["db1"], "db1"),
        (["alpha", "beta"], "alpha,beta"),
        (["10.0.0.1", "10.0.0.2"], "10.0.0.[1-2]"),
    ],
)
def test_compress_hosts(names: list[str], expected: str) -> None:
    assert compress_hosts(names) == expected


@pytest.mark.parametrize(
    ("value", "total", "expected"),
    [(None, 10, None), (3, 10, 3), ("3", 10, 3), ("10%", 100, 10), ("25%", 10, 2), ("0%", 5, 0)],
)
def test_count_of_counts_and_percentages(value: object, total: int, expected: int | None) -> None:
    assert count_of(value, total, "batch_size") == expected  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["-1", "ten", "150%", "x%"])
def test_count_of_rejects_bad_values(value: str) -> None:
    with pytest.raises(ConfigError, match="max_failures"):
        count_of(value, 10, "max_failures")


def _result(host: str, out: str, code: int = 0) -> Result:
    return Result(command="cmd", exited=code, host=host, stdout_bytes=out.encode())


def test_group_result_partitions_and_summarises() -> None:
    failing = _result("web03", "", 3)
    result = GroupResult(
        {
            "web01": _result("web01", "same\n"),
            "web02": _result("web02", "same\n"),
            "web03": UnexpectedExit(failing),
            "web04": HostSkipped("web04", "not started: max_failures exceeded"),
            "web05": HostSkipped("web05", "not started: max_failures exceeded"),
            "web06": _result("web06", "other\n"),
        },
        duration=1.5,
    )
    assert set(result.succeeded) == {"web01", "web02", "web06"}
    assert set(result.failed) == {"web03"}
    assert set(result.skipped) == {"web04", "web05"}
    text = result.summary()
    assert text.splitlines()[0] == "6 hosts: 3 ok, 1 failed, 2 skipped in 1.5 s"
    assert "  web03: command 'cmd' exited with status 3" in text
    assert "  web[04-05] (2): not started: max_failures exceeded" in text
    assert result.grouped_output()[0] == (["web01", "web02"], "same\n")
    records = {r["host"]: r for r in result.records()}
    assert records["web03"]["exited"] == 3 and records["web03"]["ok"] is False
    assert records["web04"]["skipped"] is True and records["web01"]["stdout"] == "same\n"


def test_prefixed_stream_writes_whole_lines_only() -> None:
    out = io.StringIO()
    stream = PrefixedStream("web1", out, colour=False)
    stream.write("par")
    assert out.getvalue() == ""
    stream.write("tial\nsecond\nthi")
    assert out.getvalue() == "[web1] partial\n[web1] second\n"
    stream.close()
    assert out.getvalue().endswith("[web1] thi\n")


def test_prefixed_stream_on_a_terminal_colours_and_escapes_controls() -> None:
    out = io.StringIO()
    stream = PrefixedStream("web1", out, colour=True)
    stream.write("evil \x1b]0;pwned\x07 title\n")
    text = out.getvalue()
    assert text.startswith("\x1b[") and "[web1] " in text
    assert "\\x1b]0;pwned\\x07" in text
    assert "\x07" not in text
    assert escape_controls("tab\tok") == "tab\tok"
