"""What the command line tells the record (argv with secrets masked), how it reads
`--rerun-failed [RUN]`, and how `@failed[:RUN]` becomes a host list of a pattern."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral import Config
from corral.cli.record import mask_argv
from corral.cli.selection import failed_lists, is_run_ref, rerun_failed_value
from corral.errors import JournalError
from corral.journal import Journal, JournalSettings
from corral.journal.sample import sample_run


@pytest.mark.parametrize(
    ("argv", "masked"),
    [
        (["--set", "sudo.password=hunter2"], ["--set", "sudo.password=****"]),
        (["--set=connect_kwargs.passphrase=x y"], ["--set=connect_kwargs.passphrase=****"]),
        (["--set", "run.env.DEPLOY_KEY=abc"], ["--set", "run.env.DEPLOY_KEY=****"]),
        (["--set", "vault.api_token=abc"], ["--set", "vault.api_token=****"]),
        (["--set", "deploy.replicas=3"], ["--set", "deploy.replicas=3"]),
        (["-H", "web1", "deploy", "--set", "x"], ["-H", "web1", "deploy", "--set", "x"]),
        (["--", "echo", "password=visible"], ["--", "echo", "password=visible"]),
    ],
)
def test_secret_settings_on_the_command_line_are_masked(argv: list[str], masked: list[str]) -> None:
    assert mask_argv(argv) == masked


@pytest.mark.parametrize(
    ("args", "read"),
    [
        (["--rerun-failed"], ["--rerun-failed=latest"]),
        (["--rerun-failed", "deploy"], ["--rerun-failed=latest", "deploy"]),
        (["--rerun-failed", "3f2a9c", "deploy"], ["--rerun-failed=3f2a9c", "deploy"]),
        (["--rerun-failed", "20261201T205533Z-3f2a9c"], ["--rerun-failed=20261201T205533Z-3f2a9c"]),
        (["--rerun-failed", "20261201"], ["--rerun-failed=20261201"]),
        (["--rerun-failed", "latest", "-P"], ["--rerun-failed=latest", "-P"]),
        (["--rerun-failed=abcdef"], ["--rerun-failed=abcdef"]),
        (["-H", "a", "deploy"], ["-H", "a", "deploy"]),
    ],
)
def test_rerun_failed_takes_the_next_word_only_when_it_names_a_run(
    args: list[str], read: list[str]
) -> None:
    assert rerun_failed_value(args) == read


@pytest.mark.parametrize(
    "word", ["latest", "last", "3f2a9c", "20261201T2055", "20261201T205533Z-3f"]
)
def test_run_references(word: str) -> None:
    assert is_run_ref(word)


@pytest.mark.parametrize("word", ["deploy", "web1", "3f2a9", "ABCDEF", "-P", "2026-12-01"])
def test_words_that_do_not_name_runs(word: str) -> None:
    assert not is_run_ref(word)


def _journal_with_runs(tmp_path: Path) -> tuple[Config, list[str]]:
    path = tmp_path / "journal.db"
    journal = Journal(JournalSettings(path=path))
    consume = journal.consumer()
    ids = ["20261201T100000Z-aaaaaa", "20261201T110000Z-bbbbbb"]
    for index, run_id in enumerate(ids):
        for event in sample_run(run_id, hosts=6, failures=index + 1, seed=index, start=1e9 + index):
            consume(event)
    journal.close()
    return Config(overrides={"journal": {"path": str(path)}}), ids


def test_at_failed_terms_become_named_host_lists(tmp_path: Path) -> None:
    config, _ = _journal_with_runs(tmp_path)
    pattern, lists = failed_lists("web:&@failed:!@failed:aaaaaa,x", config)
    assert pattern == "web:&@failed:!@failed-aaaaaa,x"
    assert len(lists["failed"]) == 2 and len(lists["failed-aaaaaa"]) == 1  # newer: 2 failures
    same, none = failed_lists("web:@failedish:@failed-file", config)
    assert same == "web:@failedish:@failed-file" and none == {}
    union, found = failed_lists("@failed:web", config)  # web is the next term, not a run
    assert union == "@failed:web" and list(found) == ["failed"]
    with pytest.raises(JournalError, match="no run 'cccccc'"):
        failed_lists("@failed:cccccc", config)
