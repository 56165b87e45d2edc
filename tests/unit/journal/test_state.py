"""RunBook: events folded into journal rows (pure logic, no database)."""

from corral.events import HostFinished, HostStarted, OutputLine, RunFinished, RunStarted
from corral.journal.settings import JournalSettings, default_path, hide_password
from corral.journal.state import RunBook, Tail


def _book() -> RunBook:
    return RunBook(tail_lines=3, tail_bytes=1000, secrets=["s3cret"])


def test_a_run_start_writes_the_run_and_a_pending_row_per_host() -> None:
    book = _book()
    book.apply(RunStarted("r", 1.0, hosts=("a", "b", "a"), tasks=("deploy", "check")))
    batch = book.take()
    assert [r["run_id"] for r in batch.new_runs] == ["r"]
    assert batch.new_runs[0]["what"] == "deploy check" and batch.new_runs[0]["hosts_total"] == 2
    assert [(h["host"], h["position"], h["status"]) for h in batch.new_hosts] == [
        ("a", 0, "pending"),
        ("b", 1, "pending"),
    ]
    assert not book.take()  # nothing new


def test_a_host_keeps_its_first_failure_over_later_tasks() -> None:
    book = _book()
    book.apply(RunStarted("r", 1.0, hosts=("a",)))
    book.apply(HostStarted("r", 2.0, host="a"))
    book.apply(HostFinished("r", 3.0, host="a", status="ok", duration=1.0, task="build"))
    book.apply(
        HostFinished(
            "r",
            5.0,
            host="a",
            status="failed",
            exit_code=4,
            error="e1",
            duration=2.0,
            task="deploy",
        )
    )
    book.apply(
        HostFinished(
            "r", 6.0, host="a", status="failed", exit_code=9, error="e2", duration=1.0, task="check"
        )
    )
    book.apply(RunFinished("r", 7.0, exit_status=4))
    batch = book.take()
    row = batch.host_updates[-1]  # inserted pending, then updated in the same batch
    assert (row["status"], row["exit_code"], row["error"], row["task"]) == (
        "failed",
        4,
        "e1",
        "deploy",
    )
    assert row["duration"] == 4.0 and row["started_at"] == 2.0 and row["finished_at"] == 6.0
    assert batch.run_updates[-1]["status"] == "failed"
    assert batch.run_updates[-1]["n_failed"] == 1
    assert book.open_runs == 0


def test_hosts_never_started_are_skipped_and_running_ones_interrupted_at_the_end() -> None:
    book = _book()
    book.apply(RunStarted("r", 1.0, hosts=("a", "b")))
    book.apply(HostStarted("r", 2.0, host="a"))
    book.apply(RunFinished("r", 3.0, exit_status=130, counts={"interrupted": 1}))
    rows = {h["host"]: h for h in book.take().host_updates}
    assert rows["a"]["status"] == "interrupted" and rows["b"]["status"] == "skipped"


def test_secrets_are_masked_and_events_of_unknown_runs_ignored() -> None:
    book = _book()
    book.apply(OutputLine("other", 1.0, host="a", text="lost"))
    book.apply(RunStarted("r", 1.0, hosts=("a",), command="echo s3cret"))
    book.apply(OutputLine("r", 1.0, host="a", text="s3cret!"))
    book.apply(HostFinished("r", 2.0, host="a", error="bad s3cret"))
    batch = book.take()
    assert batch.new_runs[0]["command"] == "echo ****"
    update = batch.host_updates[0]
    assert update["output"] == '[["stdout", "****!"]]' and update["error"] == "bad ****"


def test_a_tail_keeps_the_last_lines_within_both_bounds() -> None:
    tail = Tail(max_lines=3, max_bytes=12)
    for n in range(5):
        tail.add("stdout", f"ab{n}")
    assert list(tail.lines) == [("stdout", "ab2"), ("stdout", "ab3"), ("stdout", "ab4")]
    tail.add("stderr", "0123456789")
    assert list(tail.lines) == [("stderr", "0123456789")] and tail.dropped == 5
    empty = Tail(max_lines=0, max_bytes=0)
    empty.add("stdout", "x")
    assert list(empty.lines) == [] and empty.dropped == 1


def test_settings_come_from_config_and_the_xdg_state_directory() -> None:
    assert default_path({"XDG_STATE_HOME": "/var/state", "HOME": "/h"}) == (
        default_path({"XDG_STATE_HOME": "/var/state"})
    )
    assert str(default_path({"XDG_STATE_HOME": "/var/state"})) == "/var/state/corral/journal.db"
    assert str(default_path({"HOME": "/h"})) == "/h/.local/state/corral/journal.db"
    assert str(default_path({"HOME": "/h", "XDG_STATE_HOME": "rel"})).startswith("/h/.local")
    settings = JournalSettings.from_config(
        {"journal": {"path": "/tmp/j.db", "tail_lines": 5, "retention_days": None}}
    )
    assert str(settings.path) == "/tmp/j.db" and settings.tail_lines == 5
    assert settings.retention_days is None and settings.database_url == "sqlite:////tmp/j.db"
    assert (
        hide_password("postgresql+psycopg://corral:pw@db/j")
        == "postgresql+psycopg://corral:****@db/j"
    )
    assert hide_password("postgresql+psycopg://corral@db/j") == "postgresql+psycopg://corral@db/j"
