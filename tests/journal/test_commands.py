"""The functions behind `corral history`, `show`, `journal ...`, `report`, `--rerun-failed` and
`@failed`, against a real journal file; and the journal's cost when it is not used."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from datetime import timezone
from pathlib import Path

import pytest
from rich.console import Console

from corral.config import Config, Secret
from corral.errors import JournalError
from corral.events import EventBus, HostFinished, RunFinished, RunStarted
from corral.journal import commands, open_journal
from corral.journal.sample import sample_run

NOW = time.time()


def _config(tmp_path: Path, **journal: object) -> Config:
    return Config(overrides={"journal": {"path": str(tmp_path / "journal.db"), **journal}})


def _record(config: Config, *runs: list) -> None:  # type: ignore[type-arg]
    journal = open_journal(config)
    assert journal is not None
    bus = EventBus()
    bus.subscribe(journal.consumer())
    for events in runs:
        for event in events:
            bus.emit(event)
    journal.close()


def _console() -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, width=120, color_system=None), out


def test_history_show_and_the_journal_commands_read_a_real_journal(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _record(
        config,
        sample_run("20261201T100000Z-aaaaaa", hosts=4, failures=1, start=NOW - 7200),
        sample_run("20261201T110000Z-bbbbbb", hosts=6, failures=0, start=NOW - 3600),
    )
    journal = commands.journal_for_reading(config)
    console, out = _console()
    assert commands.history(journal, console, tz=timezone.utc) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].split() == [
        "RUN",
        "STARTED",
        "USER",
        "WHAT",
        "OK",
        "FAIL",
        "SKIP",
        "TIME",
        "STATUS",
    ]
    assert lines[1].startswith("20261201T110000Z-bbbbbb") and lines[1].rstrip().endswith("ok")
    assert "failed (75)" in lines[2]

    json_out = io.StringIO()
    commands.history(journal, console, status="failed", output="json", out=json_out)
    assert [json.loads(x)["run_id"] for x in json_out.getvalue().splitlines()] == [
        "20261201T100000Z-aaaaaa"
    ]
    json_out = io.StringIO()
    commands.history(journal, console, since="90m", output="json", out=json_out)
    assert len(json_out.getvalue().splitlines()) == 1

    console, out = _console()
    assert commands.show(journal, "aaaaaa", console, tz=timezone.utc) == 0
    assert out.getvalue().startswith("run 20261201T100000Z-aaaaaa: failed (exit 75)\n")
    assert "app: port 8080 in use" in out.getvalue()
    json_out = io.StringIO()
    commands.show(journal, None, console, output="json", out=json_out)
    assert json.loads(json_out.getvalue())["summary"]["run_id"] == "20261201T110000Z-bbbbbb"

    console, out = _console()
    assert commands.check(journal, console) == 0 and out.getvalue().endswith("ok\n")
    console, out = _console()
    assert commands.prune(journal, "90m", console) == 0
    assert out.getvalue().endswith("1 run older than 90m deleted\n")
    assert commands.vacuum(journal, console) == 0
    with pytest.raises(JournalError, match="bad age"):
        commands.prune(journal, "forever", console)


def test_the_report_command_writes_one_self_contained_page(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _record(config, sample_run("r-1", hosts=5, failures=1, start=NOW))
    path = commands.report(commands.journal_for_reading(config), "r-1", tmp_path / "run.html")
    page = path.read_text()
    assert page.startswith("<!doctype html>") and "corral run <code" in page
    assert "http://" not in page and "https://" not in page and "src=" not in page


def test_rerun_failed_and_the_failed_selector_pick_failed_and_unreached_hosts(
    tmp_path: Path,
) -> None:
    config = _config(tmp_path)
    _record(
        config,
        [
            RunStarted("old", NOW - 100, hosts=("a", "b")),
            HostFinished("old", NOW - 99, host="a", status="failed"),
            HostFinished("old", NOW - 99, host="b", status="ok"),
            RunFinished("old", NOW - 98, exit_status=1),
        ],
        [
            RunStarted("new", NOW - 50, hosts=("c", "d", "e", "f")),
            HostFinished("new", NOW - 49, host="c", status="ok"),
            HostFinished("new", NOW - 49, host="d", status="failed"),
            HostFinished("new", NOW - 49, host="e", status="interrupted"),
            RunFinished("new", NOW - 48, exit_status=130),  # f: never reached
        ],
        [
            RunStarted("clean", NOW - 10, hosts=("g",)),
            HostFinished("clean", NOW - 9, host="g", status="ok"),
            RunFinished("clean", NOW - 8),
        ],
    )
    journal = commands.journal_for_reading(config)
    assert commands.failed_hosts(journal, "new") == ("new", ["d", "e", "f"])
    with pytest.raises(JournalError, match="run clean has no failed or unreached host"):
        commands.failed_hosts(journal)  # the latest run went well
    assert commands.expand_selectors(["x", "@failed:new", "d", "@failed:old"], journal) == [
        "x",
        "d",
        "e",
        "f",
        "a",
    ]
    assert commands.expand_selectors(["@failed"], journal) == []
    with pytest.raises(JournalError, match="no run 'nope'"):
        commands.expand_selectors(["@failed:nope"], journal)


def test_open_journal_is_none_when_disabled_and_masks_the_configs_secrets(
    tmp_path: Path,
) -> None:
    assert open_journal(_config(tmp_path, enabled=False)) is None
    config = _config(tmp_path)
    config.merge(
        {
            "sudo": {"password": Secret("sudo-pw-9876")},
            "connect_kwargs": {"passphrase": "key-pass-5432"},
        }
    )
    _record(
        config,
        [
            RunStarted("m", NOW, hosts=("h",), command="echo sudo-pw-9876 key-pass-5432"),
            RunFinished("m", NOW + 1),
        ],
    )
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("journal.db*"))
    assert b"sudo-pw-9876" not in raw and b"key-pass-5432" not in raw
    assert commands.journal_for_reading(config).run("m").command == "echo **** ****"


def test_the_journal_costs_no_sqlalchemy_import_until_it_writes_or_reads(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from corral.config import Config\n"
        "from corral.journal import open_journal\n"
        "import corral.cli.main, corral.events\n"
        f"path = {str(tmp_path / 'j.db')!r}\n"
        "j = open_journal(Config(overrides={'journal': {'path': path}}))\n"
        "assert j is not None\n"
        "print('sqlalchemy' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout == "False\n"
