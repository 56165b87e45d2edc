"""The journal against real databases: SQLite files and a private PostgreSQL server."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, insert, text

from corral.errors import JournalError
from corral.events import (
    Event,
    HostFinished,
    HostStarted,
    OperationResult,
    OutputLine,
    RunFinished,
    RunStarted,
)
from corral.journal import Journal, JournalSettings
from corral.journal.sample import sample_run
from corral.journal.schema import SCHEMA_VERSION, schema_version

NOW = time.time()


def _record(settings: JournalSettings, *runs: list[Event], **kwargs: Any) -> Journal:
    journal = Journal(settings, **kwargs)
    consume = journal.consumer()
    for events in runs:
        for event in events:
            consume(event)
    journal.close()
    return journal


def _run(
    run_id: str,
    start: float,
    outcomes: dict[str, str],
    *,
    command: str | None = "uptime",
    tasks: tuple[str, ...] = (),
    user: str = "ana",
) -> list[Event]:
    """A run over `outcomes`' hosts: host -> ok/failed/skipped/interrupted/never."""
    events: list[Event] = [
        RunStarted(
            run_id,
            start,
            argv=("corral", "--", command or ""),
            user=user,
            controller="ops1",
            version="0.1.0",
            cwd="/srv",
            tasks=tasks,
            command=command,
            selection=",".join(outcomes),
            hosts=tuple(outcomes),
        )
    ]
    for host, outcome in outcomes.items():
        if outcome == "never":
            continue
        events.append(HostStarted(run_id, start + 1, host=host))
        events.append(OutputLine(run_id, start + 1.5, host=host, text=f"hello from {host}"))
        events.append(
            HostFinished(
                run_id,
                start + 2,
                host=host,
                status=outcome,  # type: ignore[arg-type]
                exit_code=0 if outcome == "ok" else 1,
                error_type=None if outcome == "ok" else "UnexpectedExit",
                error=None if outcome == "ok" else f"{host}: boom",
                duration=1.0,
                task=tasks[0] if tasks else None,
            )
        )
    failed = any(o == "failed" for o in outcomes.values())
    events.append(RunFinished(run_id, start + 3, duration=3.0, exit_status=1 if failed else 0))
    return events


def test_a_run_is_recorded_with_hosts_outcomes_output_and_operations(
    journal_settings: JournalSettings,
) -> None:
    journal = _record(journal_settings, sample_run("r1", hosts=6, failures=2, start=NOW))
    run = journal.run("r1")
    assert run.summary.status == "failed"
    assert run.summary.exit_status == 75
    assert run.summary.counts == {"ok": 4, "failed": 2, "skipped": 0, "interrupted": 0}
    assert run.summary.what == "deploy"
    assert run.summary.user == "deploy"
    assert run.argv[:3] == ("corral", "-P", "-H")
    assert run.tasks == ("deploy",)
    assert run.config["concurrency"] == 64
    assert [h.host for h in run.hosts] == [f"web{i:03d}" for i in range(1, 7)]
    failed = run.failures()
    assert len(failed) == 2
    assert all(h.exit_code == 75 and h.error_type == "UnexpectedExit" for h in failed)
    assert failed[0].output[-1] == ("stderr", "app: port 8080 in use")
    first = run.hosts[0]
    assert first.output[0] == ("stdout", "[1/4] step on web001")
    assert first.started_at is not None and first.finished_at is not None
    assert first.finished_at > first.started_at
    changed = [op for h in run.hosts for op in h.operations if op.changed]
    assert changed and all(op.diff and "+replicas = 3" in op.diff for op in changed)


def test_history_lists_newest_first_with_counts_and_filters(
    journal_settings: JournalSettings,
) -> None:
    day = 86400.0
    journal = _record(
        journal_settings,
        _run("a-old", NOW - 3 * day, {"web1": "ok", "web2": "ok"}, command=None, tasks=("deploy",)),
        _run("b-mid", NOW - 2 * day, {"web1": "failed", "db1": "ok"}, command="df -h"),
        _run("c-new", NOW - day, {"db1": "ok", "web2": "never"}, command="uptime", user="bo"),
    )
    history = journal.history()
    assert [r.run_id for r in history] == ["c-new", "b-mid", "a-old"]
    assert history[0].counts == {"ok": 1, "failed": 0, "skipped": 1, "interrupted": 0}
    assert history[0].hosts_total == 2 and history[0].user == "bo"
    assert history[1].status == "failed" and history[1].exit_status == 1
    assert history[2].what == "deploy" and history[2].duration == 3.0

    def ids(**filters: Any) -> list[str]:
        return [r.run_id for r in journal.history(**filters)]

    assert ids(host="web1") == ["b-mid", "a-old"]
    with pytest.MonkeyPatch.context() as patch:  # the plan for a host found in many runs
        patch.setattr("corral.journal.store.FEW_RUNS", 1)
        assert ids(host="web1") == ["b-mid", "a-old"]
        assert ids(host="web*", limit=2) == ["c-new", "b-mid"]
        assert ids(host="web1", status="failed") == ["b-mid"]
    assert ids(host="web*") == ["c-new", "b-mid", "a-old"]
    assert ids(host="web1", status="failed") == ["b-mid"]
    assert ids(status="failed") == ["b-mid"]
    assert ids(status="ok") == ["c-new", "a-old"]
    assert ids(status="skipped") == ["c-new"]
    assert ids(what="deploy") == ["a-old"]
    assert ids(what="df") == ["b-mid"]
    assert ids(what="100%_") == []  # LIKE wildcards in a filter are plain characters
    assert ids(since=NOW - 2.5 * day) == ["c-new", "b-mid"]
    assert ids(until=NOW - 1.5 * day) == ["b-mid", "a-old"]
    assert ids(limit=1) == ["c-new"]
    with pytest.raises(JournalError, match="unknown status 'broken'"):
        journal.history(status="broken")


def test_failed_hosts_are_those_that_failed_or_were_never_reached(
    journal_settings: JournalSettings,
) -> None:
    outcomes = {"h1": "ok", "h2": "failed", "h3": "ok", "h4": "never", "h5": "interrupted"}
    journal = _record(
        journal_settings,
        _run("x-first", NOW - 100, {"z1": "failed"}),
        _run("x-second", NOW - 50, outcomes),
    )
    assert journal.failed_hosts() == ("x-second", ["h2", "h4", "h5"])  # the latest run
    assert journal.failed_hosts("x-first") == ("x-first", ["z1"])
    run = journal.run("x-second")
    never = next(h for h in run.hosts if h.host == "h4")
    assert never.status == "skipped" and never.error and "not reached" in never.error


def test_a_run_is_found_by_id_prefix_suffix_or_latest(journal_settings: JournalSettings) -> None:
    journal = _record(
        journal_settings,
        _run("20261201T100000Z-aaa111", NOW - 20, {"h": "ok"}),
        _run("20261201T100500Z-bbb222", NOW - 10, {"h": "ok"}),
    )
    assert journal.run("latest").run_id == "20261201T100500Z-bbb222"
    assert journal.run("20261201T1000").run_id == "20261201T100000Z-aaa111"
    assert journal.run("aaa111").run_id == "20261201T100000Z-aaa111"
    with pytest.raises(JournalError, match="ambiguous"):
        journal.run("20261201T10")
    with pytest.raises(JournalError, match="no run 'zzz'"):
        journal.run("zzz")


def test_output_is_kept_as_a_tail_bounded_in_lines_and_bytes(tmp_path: Path) -> None:
    settings = JournalSettings(path=tmp_path / "j.db", tail_lines=5, tail_bytes=100)
    events: list[Event] = [RunStarted("t", NOW, hosts=("a", "b"))]
    events += [OutputLine("t", NOW, host="a", text=f"line {n}") for n in range(1000)]
    events += [OutputLine("t", NOW, host="b", text="x" * 30 + str(n)) for n in range(10)]
    events += [OutputLine("t", NOW, host="b", text="y" * 5000)]
    events += [RunFinished("t", NOW + 1)]
    run = _record(settings, events).run("t")
    a, b = run.hosts
    assert [text for _, text in a.output] == [f"line {n}" for n in range(995, 1000)]
    assert a.output_dropped == 995
    assert sum(len(text) + 1 for _, text in b.output) <= 100
    assert b.output[-1][1] == "y" * 25  # one huge line: only its end is kept


def test_secrets_are_never_written(journal_settings: JournalSettings, tmp_path: Path) -> None:
    secret, sudo = "hunter2-s3cret", "sudo-pass-42"
    events: list[Event] = [
        RunStarted(
            "s",
            NOW,
            argv=("corral", f"--set=token={secret}"),
            hosts=("h",),
            command=f"echo {secret}",
            selection="h",
            cwd=f"/tmp/{secret}",
            config={"token": secret},
        ),
        OutputLine("s", NOW, host="h", text=f"password is {sudo}!"),
        OperationResult(
            "s",
            NOW,
            host="h",
            operation=f"put {secret}",
            changed=True,
            message=secret,
            diff=f"+{sudo}",
            commands=(f"echo {sudo}",),
        ),
        HostFinished("s", NOW, host="h", status="failed", error=f"bad {secret}", task=secret),
        RunFinished("s", NOW + 1, exit_status=1),
    ]
    journal = _record(journal_settings, events, secrets=[secret])
    journal_2 = Journal(journal_settings, secrets=[secret])  # a second writer: add_secret
    journal_2.add_secret(sudo)
    consume = journal_2.consumer()
    for event in events:
        consume(type(event).from_dict({**event.to_dict(), "run_id": "s2"}))
    journal_2.close()
    run = journal.run("s")
    assert run.command == "echo ****" and run.argv[1] == "--set=token=****"
    assert run.hosts[0].error == "bad ****"
    dump = _everything(journal_settings)
    assert secret not in dump and "****" in dump
    assert sudo in dump  # the first writer was not told about it: the check sees what is written


def _everything(settings: JournalSettings) -> str:
    """Every byte the journal holds: the raw files for SQLite, every row for PostgreSQL."""
    if settings.url is None:
        files = [settings.path, Path(f"{settings.path}-wal")]
        return b"".join(p.read_bytes() for p in files if p.exists()).decode("latin-1")
    engine = create_engine(settings.url)
    rows = []
    with engine.connect() as connection:
        for table in ("runs", "run_hosts", "operations"):
            rows += [repr(r) for r in connection.execute(text(f"SELECT * FROM {table}"))]
    engine.dispose()
    return "\n".join(rows)


def test_prune_deletes_old_runs_and_retention_runs_at_most_once_a_day(
    journal_settings: JournalSettings,
) -> None:
    day = 86400.0
    settings = JournalSettings(
        path=journal_settings.path, url=journal_settings.url, retention_days=30
    )
    journal = _record(
        settings,
        _run("p-40d", NOW - 40 * day, {"h1": "ok", "h2": "failed"}),
        _run("p-10d", NOW - 10 * day, {"h1": "ok"}),
        _run("p-1d", NOW - day, {"h1": "ok"}),
    )
    # retention ran when the writer started (before these runs); once a day at most
    assert [r.run_id for r in journal.history()] == ["p-1d", "p-10d", "p-40d"]
    _record(settings, _run("p-now", NOW, {"h1": "ok"}))
    assert len(journal.history()) == 4  # retention already ran today: kept
    assert journal.prune(older_than=5 * day) == 2
    assert [r.run_id for r in journal.history()] == ["p-now", "p-1d"]
    report = journal.check()
    assert report.ok, report.problems
    assert (report.runs, report.hosts) == (2, 2)  # the old runs' hosts went with them


def test_check_vacuum_and_the_schema_version(journal_settings: JournalSettings) -> None:
    journal = _record(journal_settings, sample_run("v", hosts=50, start=NOW))
    report = journal.check()
    assert report.ok and report.schema_version == SCHEMA_VERSION
    assert (report.runs, report.hosts, report.operations) == (1, 50, 50)
    assert journal.prune(older_than=0) == 1
    vacuum = journal.vacuum()
    if journal_settings.url is None:
        assert vacuum.bytes_before is not None and vacuum.bytes_after is not None
        assert vacuum.bytes_after < vacuum.bytes_before
    assert journal.check().runs == 0


def test_a_journal_from_a_newer_corral_is_refused(journal_settings: JournalSettings) -> None:
    _record(journal_settings, _run("n", NOW, {"h": "ok"}))
    url = journal_settings.url or f"sqlite:///{journal_settings.path}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(insert(schema_version).values(version=SCHEMA_VERSION + 1, applied_at=0))
    engine.dispose()
    with pytest.raises(JournalError, match=f"schema version {SCHEMA_VERSION + 1}, newer"):
        Journal(journal_settings).history()
    warnings: list[str] = []
    _record(journal_settings, _run("m", NOW, {"h": "ok"}), warn=warnings.append)
    assert len(warnings) == 1 and "upgrade corral" in warnings[0]
    assert "not recorded" in warnings[0]


def test_reading_a_journal_that_does_not_exist_creates_nothing(tmp_path: Path) -> None:
    settings = JournalSettings(path=tmp_path / "none" / "journal.db")
    journal = Journal(settings)
    assert journal.history() == []
    assert journal.check().problems == ["the journal does not exist yet"]
    with pytest.raises(JournalError, match="does not exist yet"):
        journal.run()
    assert not settings.path.parent.exists()
