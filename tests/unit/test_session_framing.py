"""How the persistent session tells one command's output from the next (pure logic)."""

from __future__ import annotations

import pytest

from corral.remote.session import _overlap, _Trailer, stop_script

NONCE = b"0123456789abcdef01234567"
OUT_END = b"\x1e" + NONCE + b" 42\n"
ERR_END = b"\x1e" + NONCE + b"\n"


@pytest.mark.parametrize(
    "output",
    [b"", b"hello\n", b"no newline", b"\x1e\x1e0123\x1e", b"\x00\xff" * 1000, NONCE + b" 1\n"],
)
def test_stdout_is_cut_at_the_end_marker_wherever_the_chunks_split(output: bytes) -> None:
    stream = output + OUT_END + b"late output of a background job\n"
    for cut in range(len(stream) + 1):
        for second in (cut, min(len(stream), cut + 7)):
            trailer = _Trailer(NONCE, with_status=True)
            got = b"".join(
                trailer.feed(part) for part in (stream[:cut], stream[cut:second], stream[second:])
            )
            assert got == output
            assert trailer.done and trailer.status == 42


def test_stderr_ends_at_its_marker_line() -> None:
    trailer = _Trailer(NONCE, with_status=False)
    assert trailer.feed(b"warning\n\x1e" + NONCE[:5]) == b"warning\n"
    assert not trailer.done
    assert trailer.feed(NONCE[5:] + b"\nafter") == b""
    assert trailer.done


def test_output_that_only_looks_like_a_marker_start_is_held_back_then_given() -> None:
    trailer = _Trailer(NONCE, with_status=True)
    assert trailer.feed(b"abc\x1e0123") == b"abc"  # could be the marker: held
    assert trailer.feed(b"zz") == b"\x1e0123zz"  # it was not
    assert not trailer.done


def test_overlap_is_the_longest_end_that_starts_the_marker() -> None:
    marker = b"\x1eabc"
    assert _overlap(b"xyz", marker) == 0
    assert _overlap(b"xyz\x1e", marker) == 1
    assert _overlap(b"x\x1eab", marker) == 3
    assert _overlap(b"\x1ea\x1eab", marker) == 3
    assert _overlap(b"\x1eabd", marker) == 0


def test_the_stop_script_takes_only_signal_names() -> None:
    assert "kill -s KILL" in stop_script(1234, "KILL")
    assert "h=1234" in stop_script(1234, "TERM")
    with pytest.raises(ValueError):
        stop_script(1, "TERM; rm -rf ~")
