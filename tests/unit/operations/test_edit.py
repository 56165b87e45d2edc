"""Editing text as Ansible's lineinfile and blockinfile do: one case per row."""

from __future__ import annotations

import pytest

from corral.operations.cron import cron_line, edit_cron
from corral.operations.edit import edit_block, edit_line

LINE_CASES = [
    # (before, line, options, after, message)
    (b"a\nb\n", "c", {}, b"a\nb\nc\n", "insert line 3"),
    (b"a\nb\n", "a", {}, b"a\nb\n", ""),  # already there
    (b"a\nb", "c", {}, b"a\nb\nc\n", "insert line 3"),  # the last line gets its newline
    (b"", "c", {}, b"c\n", "insert line 1"),
    (b"port=1\nx\n", "port=2", {"regexp": "^port="}, b"port=2\nx\n", "replace line 1"),
    (b"port=1\nport=3\n", "port=2", {"regexp": "^port="}, b"port=1\nport=2\n", "replace line 2"),
    (b"port=1\nport=3\n", "port=2", {"regexp": "^port=", "firstmatch": True},
     b"port=2\nport=3\n", "replace line 1"),
    (b"port=2\n", "port=2", {"regexp": "^port="}, b"port=2\n", ""),
    (b"a\nport=2\n", "port=2", {"regexp": "^nomatch"}, b"a\nport=2\n", ""),  # exact line there
    (b"[x]\nk=1\n[y]\nk=2\n", "n=1", {"after": r"^\[x\]"}, b"[x]\nn=1\nk=1\n[y]\nk=2\n",
     "insert line 2"),
    (b"a\nb\n", "z", {"before": "^b"}, b"a\nz\nb\n", "insert line 2"),
    (b"a\nb\n", "z", {"before": "BOF"}, b"z\na\nb\n", "insert line 1"),
    (b"a\nb\n", "z", {"after": "EOF"}, b"a\nb\nz\n", "insert line 3"),
    (b"a\nb\n", "z", {"after": "^nomatch"}, b"a\nb\nz\n", "insert line 3"),
    (b"a\r\nb\r\n", "c", {}, b"a\r\nb\r\nc\r\n", "insert line 3"),  # the file's own endings
    (b"a\nb\na\n", "a", {"state": "absent"}, b"b\n", "remove 2 lines"),
    (b"k=1\nx\nk=2\n", None, {"state": "absent", "regexp": "^k="}, b"x\n", "remove 2 lines"),
    (b"x\n", "a", {"state": "absent"}, b"x\n", ""),
    (b"caf\xe9\n", "x", {}, b"caf\xe9\nx\n", "insert line 2"),  # not UTF-8: kept as it was
]  # fmt: skip


@pytest.mark.parametrize(("before", "line", "options", "after", "message"), LINE_CASES)
def test_edit_line(
    before: bytes, line: str | None, options: dict[str, object], after: bytes, message: str
) -> None:
    edit = edit_line(before, line, **options)  # type: ignore[arg-type]
    assert (edit.content, edit.message) == (after, message)
    assert edit.changed(before) == (after != before)
    again = edit_line(after, line, **options)  # type: ignore[arg-type]
    assert again.content == after and not again.changed(after)  # idempotent


M = "# {mark} CORRAL MANAGED BLOCK"
B = b"# BEGIN CORRAL MANAGED BLOCK\n"
E = b"# END CORRAL MANAGED BLOCK\n"

BLOCK_CASES = [
    (b"a\n", "x\ny", {}, b"a\n" + B + b"x\ny\n" + E, "insert block"),
    (b"a\n" + B + b"old\n" + E + b"z\n", "x", {}, b"a\n" + B + b"x\n" + E + b"z\n",
     "update block"),
    (b"a\n" + B + b"x\n" + E, "x", {}, b"a\n" + B + b"x\n" + E, ""),
    (b"a\n" + B + b"x\n" + E + b"z\n", "x", {"state": "absent"}, b"a\nz\n", "remove block"),
    (b"a\n" + B + b"x\n" + E, "", {}, b"a\n", "remove block"),  # empty block: absent
    (b"a\nb\n", "x", {"before": "^b"}, b"a\n" + B + b"x\n" + E + b"b\n", "insert block"),
    (b"a\nb\n", "x", {"before": "BOF"}, B + b"x\n" + E + b"a\nb\n", "insert block"),
    (b"a\n", "x", {"marker": "; {mark} app"}, b"a\n; BEGIN app\nx\n; END app\n",
     "insert block"),
]  # fmt: skip


@pytest.mark.parametrize(("before", "block", "options", "after", "message"), BLOCK_CASES)
def test_edit_block(
    before: bytes, block: str, options: dict[str, object], after: bytes, message: str
) -> None:
    edit = edit_block(before, block, **{"marker": M, **options})  # type: ignore[arg-type]
    assert (edit.content, edit.message) == (after, message)
    again = edit_block(after, block, **{"marker": M, **options})  # type: ignore[arg-type]
    assert again.content == after


def test_cron_entries_are_named_and_replaced_in_place() -> None:
    line = cron_line("backup.sh", minute="5", hour="2")
    assert line == "5 2 * * * backup.sh"
    assert cron_line("x", special_time="daily", user="root") == "@daily root x"
    assert cron_line("x", disabled=True) == "#* * * * * x"
    first = edit_cron(b"MAILTO=a\n", "nightly", line)
    assert first.content == b"MAILTO=a\n# corral: nightly\n5 2 * * * backup.sh\n"
    assert first.message == "add entry"
    assert not edit_cron(first.content, "nightly", line).changed(first.content)
    moved = edit_cron(first.content, "nightly", "6 2 * * * backup.sh")
    assert moved.content == b"MAILTO=a\n# corral: nightly\n6 2 * * * backup.sh\n"
    gone = edit_cron(moved.content, "nightly", None)
    assert gone.content == b"MAILTO=a\n" and gone.message == "remove entry"
    assert edit_cron(b"", "x", None).content == b""
