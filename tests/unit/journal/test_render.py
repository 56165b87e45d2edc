"""Golden output of the history commands (fixed width, no colour, UTC), and their parsing."""

import io
import json
from datetime import timezone

import pytest
from rich.console import Console

from corral.errors import JournalError
from corral.journal.commands import parse_age, parse_when
from corral.journal.records import HostRecord, OperationRecord, RunDetail, RunSummary
from corral.journal.render import (
    format_duration,
    render_check,
    render_history,
    render_prune,
    render_run,
    render_vacuum,
    write_history_json,
    write_run_json,
)
from corral.journal.store import CheckReport, VacuumReport

T = 1_796_159_733.0  # 2026-12-01 21:15:33 UTC


def _console(out: io.StringIO, width: int = 100) -> Console:
    return Console(file=out, width=width, color_system=None)


RUNS = [
    RunSummary(
        "20261201T211533Z-3f2a9c",
        T,
        T + 754.2,
        "ana",
        "ops1",
        "deploy",
        "failed",
        75,
        754.2,
        120,
        {"ok": 117, "failed": 2, "skipped": 1, "interrupted": 0},
    ),
    RunSummary(
        "20261201T195213Z-00aa11",
        T - 5000,
        T - 4990,
        "bo",
        "ops1",
        "uptime",
        "ok",
        0,
        3.25,
        3,
        {"ok": 3, "failed": 0, "skipped": 0, "interrupted": 0},
    ),
    RunSummary(
        "20261201T184533Z-bb22cc",
        T - 9000,
        None,
        "bo",
        "ops2",
        "sudo systemctl restart app --now",
        "running",
        None,
        None,
        40,
        {"ok": 10, "failed": 0, "skipped": 0, "interrupted": 0},
    ),
]

OP = OperationRecord(
    "web2",
    T + 5,
    "put_template app.conf",
    True,
    True,
    "/etc/app/app.conf",
    "-replicas = 2\n+replicas = 3\n",
    ("mv a b",),
)
DETAIL = RunDetail(
    RUNS[0],
    ("corral", "-H", "web[1-4]", "deploy"),
    "0.1.0",
    "/srv/app",
    ("deploy",),
    None,
    "web[1-4]",
    {"concurrency": 8},
    (
        HostRecord(
            "web1", 0, "ok", 0, None, None, T + 1, T + 3, 2.0, "deploy", (("stdout", "done"),)
        ),
        HostRecord(
            "web2",
            1,
            "failed",
            75,
            "UnexpectedExit",
            "web2: command 'systemctl reload app' exited with status 75",
            T + 1,
            T + 4,
            3.0,
            "deploy",
            (("stdout", "step 1"), ("stderr", "app: port 8080 in use")),
            12,
            (OP,),
        ),
        HostRecord("web3", 2, "ok", 0, None, None, T + 1, T + 3, 2.0, "deploy"),
        HostRecord(
            "web4",
            3,
            "skipped",
            None,
            None,
            "not reached: the run ended before this host started",
            None,
            None,
            None,
            None,
        ),
    ),
)


def test_history_is_a_table_with_counts_time_and_status() -> None:
    out = io.StringIO()
    render_history(RUNS, _console(out), tz=timezone.utc)
    assert out.getvalue() == (
        "RUN                      STARTED      USER  WHAT              OK  FAIL  SKIP       TIME  STATUS     \n"  # noqa: E501
        "20261201T211533Z-3f2a9c  12-01 21:15  ana   deploy           117     2     1  12 m 34 s  failed (75)\n"  # noqa: E501
        "20261201T195213Z-00aa11  12-01 19:52  bo    uptime             3     0     0      3.2 s  ok         \n"  # noqa: E501
        "20261201T184533Z-bb22cc  12-01 18:45  bo    sudo systemctl…   10     0     0          -  running    \n"  # noqa: E501
    )


def test_history_shows_interrupted_hosts_only_when_a_run_has_some() -> None:
    run = RunSummary(
        "r1",
        T,
        T + 2,
        "ana",
        "",
        "deploy",
        "interrupted",
        130,
        2.0,
        4,
        {"ok": 1, "failed": 0, "skipped": 2, "interrupted": 1},
    )
    out = io.StringIO()
    render_history([run], _console(out), tz=timezone.utc)
    assert out.getvalue() == (
        "RUN  STARTED      USER  WHAT    OK  FAIL  SKIP  INT   TIME  STATUS           \n"
        "r1   12-01 21:15  ana   deploy   1     0     2    1  2.0 s  interrupted (130)\n"
    )


def test_an_empty_history_says_where_it_looked() -> None:
    out = io.StringIO()
    render_history([], _console(out), location="/home/ana/.local/state/corral/journal.db")
    assert out.getvalue() == "no runs recorded in /home/ana/.local/state/corral/journal.db\n"


def test_history_json_is_one_object_per_run() -> None:
    out = io.StringIO()
    write_history_json(RUNS, out)
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["run_id"] for r in records] == [r.run_id for r in RUNS]
    assert records[0] == {
        "run_id": "20261201T211533Z-3f2a9c",
        "started_at": T,
        "finished_at": T + 754.2,
        "user": "ana",
        "controller": "ops1",
        "what": "deploy",
        "status": "failed",
        "exit_status": 75,
        "duration": 754.2,
        "hosts_total": 120,
        "counts": {"ok": 117, "failed": 2, "skipped": 1, "interrupted": 0},
    }


def test_show_prints_failures_first_then_the_other_hosts_and_the_changes() -> None:
    out = io.StringIO()
    render_run(DETAIL, _console(out), tz=timezone.utc)
    assert out.getvalue() == (
        "run 20261201T211533Z-3f2a9c: failed (exit 75)\n"
        "  started  2026-12-01 21:15:33 by ana on ops1\n"
        "  finished 2026-12-01 21:28:07 after 12 m 34 s\n"
        "  command  corral -H web[1-4] deploy\n"
        "  what     deploy\n"
        "  hosts    120: 117 ok, 2 failed, 1 skipped\n"
        "  in       /srv/app\n"
        "failed (1):\n"
        "  web2: failed (exit 75) in deploy after 3.0 s\n"
        "    UnexpectedExit: web2: command 'systemctl reload app' exited with status 75\n"
        "    last 2 lines of output (12 earlier not shown):\n"
        "    | step 1\n"
        "    | app: port 8080 in use\n"
        "ok (2): web[1,3]\n"
        "skipped (1): web4\n"
        "changed (1):\n"
        "  web2: put_template app.conf (/etc/app/app.conf)\n"
        "    -replicas = 2\n"
        "    +replicas = 3\n"
    )


def test_show_json_has_every_host_with_its_output_and_operations() -> None:
    out = io.StringIO()
    write_run_json(DETAIL, out)
    data = json.loads(out.getvalue())
    assert data["summary"]["run_id"] == "20261201T211533Z-3f2a9c"
    assert data["argv"] == ["corral", "-H", "web[1-4]", "deploy"]
    web2 = data["hosts"][1]
    assert web2["output"] == [["stdout", "step 1"], ["stderr", "app: port 8080 in use"]]
    assert web2["operations"][0]["diff"] == "-replicas = 2\n+replicas = 3\n"
    assert web2["output_dropped"] == 12 and data["hosts"][3]["status"] == "skipped"


def test_check_vacuum_and_prune_say_what_they_did() -> None:
    out = io.StringIO()
    console = _console(out)
    render_check(CheckReport("/j.db", 1, 10, 200, 30), console)
    render_check(CheckReport("/j.db", 1, 10, 200, 30, ["3 host rows belong to no run"]), console)
    render_vacuum(VacuumReport("/j.db", 5 * 1024 * 1024, 1024 * 1024), console)
    render_vacuum(VacuumReport("postgresql+psycopg://corral@db/j", None, None), console)
    render_prune(12, "30d", "/j.db", console)
    render_prune(1, "12h", "/j.db", console)
    assert out.getvalue() == (
        "journal /j.db: schema version 1, 10 runs, 200 host records, 30 operations\n"
        "ok\n"
        "journal /j.db: schema version 1, 10 runs, 200 host records, 30 operations\n"
        "problem: 3 host rows belong to no run\n"
        "journal /j.db: 5.0 MiB -> 1.0 MiB (4.0 MiB reclaimed)\n"
        "journal postgresql+psycopg://corral@db/j: vacuumed\n"
        "journal /j.db: 12 runs older than 30d deleted\n"
        "journal /j.db: 1 run older than 12h deleted\n"
    )


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0.04, "0.0 s"),
        (3.25, "3.2 s"),
        (59.9, "59.9 s"),
        (61, "1 m 01 s"),
        (754.2, "12 m 34 s"),
        (3725, "1 h 02 m"),
    ],
)
def test_durations_read_like_people_write_them(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_ages_and_dates_parse() -> None:
    assert parse_age("30d") == 30 * 86400 and parse_age("12h") == 43200
    assert parse_age("90m") == 5400 and parse_age("2w") == 14 * 86400 and parse_age("1.5s") == 1.5
    with pytest.raises(JournalError, match="bad age '30 days'"):
        parse_age("30 days")
    utc = timezone.utc
    assert parse_when("3d", now=T) == T - 3 * 86400
    assert parse_when("2026-12-01", tz=utc) == 1_796_083_200.0
    assert parse_when("2026-12-01T21:15:33", tz=utc) == T
    assert parse_when("2026-12-01T21:15:33+00:00") == T
    assert parse_when("today", now=T, tz=utc) == 1_796_083_200.0
    assert parse_when("yesterday", now=T, tz=utc) == 1_796_083_200.0 - 86400
    with pytest.raises(JournalError, match="bad date 'last tuesday'"):
        parse_when("last tuesday")
