"""`PrefixedStream` bounds an unfinished line: past FOLD characters it is written in pieces.

Issue 9, defect 3: a 30 MB line with no newline was held whole and re-joined on every write
(quadratic), stalling `corral -P`.
"""

from __future__ import annotations

import io

from corral.runner.prefix import FOLD, PrefixedStream


def test_a_line_longer_than_the_fold_is_written_in_pieces_as_it_arrives() -> None:
    out = io.StringIO()
    stream = PrefixedStream("web1", out, colour=False)
    chunk = "x" * 1000
    for _ in range(3 * FOLD // 1000):  # 3 folds' worth, in small writes, no newline
        stream.write(chunk)
    written = out.getvalue().splitlines()
    assert written == [f"[web1] {'x' * FOLD}"] * (len(written))
    assert len(written) == 2  # the rest (less than one fold) is still held
    stream.write("y\n")
    tail = out.getvalue().splitlines()[2:]
    assert tail == [f"[web1] {'x' * (3 * FOLD // 1000 * 1000 - 2 * FOLD)}y"]


def test_folding_loses_nothing_and_whole_lines_are_untouched() -> None:
    out = io.StringIO()
    stream = PrefixedStream("h", out, colour=False)
    text = "a" * (FOLD * 2 + 5) + "\nshort line\n" + "b" * (FOLD + 1)
    for start in range(0, len(text), 4093):
        stream.write(text[start : start + 4093])
    stream.close()
    lines = out.getvalue().splitlines()
    assert all(line.startswith("[h] ") for line in lines)
    assert "".join(line[4:] for line in lines) == text.replace("\n", "")
    assert "[h] short line" in lines
    assert max(len(line) for line in lines) == FOLD + 4


def test_a_huge_write_in_one_piece_is_folded_at_once() -> None:
    out = io.StringIO()
    stream = PrefixedStream("h", out, colour=False)
    stream.write("z" * (10 * FOLD + 3))
    assert out.getvalue().count("\n") == 10
    stream.close()
    assert out.getvalue().splitlines()[-1] == "[h] zzz"
