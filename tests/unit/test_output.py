import io

import pytest

from corral.runner.output import Capture, OutputHandler


def _handler(**kwargs: object) -> OutputHandler:
    defaults: dict[str, object] = dict(
        encoding="utf-8", hide=(), out_stream=None, err_stream=None, capture_limit=None
    )
    defaults.update(kwargs)
    return OutputHandler(**defaults)  # type: ignore[arg-type]


def test_multibyte_character_split_across_reads_decodes_correctly() -> None:
    out = io.StringIO()
    handler = _handler(out_stream=out)
    data = "héllo 汉语\n".encode()
    for i in range(len(data)):  # one byte at a time: every split point
        handler.feed("stdout", data[i : i + 1])
    handler.finish()
    assert out.getvalue() == "héllo 汉语\n"
    assert handler.captures["stdout"].value() == data


def test_undecodable_bytes_are_replaced_not_raised() -> None:
    out = io.StringIO()
    handler = _handler(out_stream=out)
    handler.feed("stdout", b"ok\xff\xfeend\n")
    handler.finish()
    assert out.getvalue() == "ok\ufffd\ufffdend\n"


def test_binary_out_stream_receives_exact_bytes() -> None:
    out = io.BytesIO()
    handler = _handler(out_stream=out)
    handler.feed("stdout", b"\x00\xff\n")
    assert out.getvalue() == b"\x00\xff\n"


def test_hidden_stream_is_captured_but_not_written() -> None:
    out, err = io.StringIO(), io.StringIO()
    handler = _handler(out_stream=out, err_stream=err, hide=("stdout",))
    handler.feed("stdout", b"quiet")
    handler.feed("stderr", b"loud")
    assert out.getvalue() == ""
    assert err.getvalue() == "loud"
    assert handler.captures["stdout"].value() == b"quiet"


def test_capture_keeps_only_the_tail_when_output_goes_to_a_caller_stream() -> None:
    handler = _handler(out_stream=io.BytesIO(), capture_limit=1000)
    for i in range(10_000):
        handler.feed("stdout", b"%09d\n" % i)
    capture = handler.captures["stdout"]
    kept = capture.value()
    assert len(kept) == 1000
    assert kept.endswith(b"000009999\n")
    assert capture.truncated
    assert len(capture._buffer) <= 2000 + 10


def test_unbounded_capture_is_complete() -> None:
    capture = Capture()
    for _ in range(1000):
        capture.feed(b"x" * 1000)
    assert len(capture.value()) == 1_000_000
    assert not capture.truncated


@pytest.mark.parametrize("cut", range(1, 12))
def test_secret_mask_catches_a_secret_split_anywhere(cut: int) -> None:
    from corral.runner.output import SecretMask

    text = b"before hunter2-xyz after\n"
    start = text.index(b"hunter2")
    mask = SecretMask([b"hunter2-xyz"], b"****")
    out = mask.feed(text[: start + cut]) + mask.feed(text[start + cut :]) + mask.finish()
    assert out == b"before **** after\n"


def test_secret_mask_holds_back_only_a_possible_beginning() -> None:
    from corral.runner.output import SecretMask

    mask = SecretMask([b"secret"], b"****")
    assert mask.feed(b"a sec") == b"a "  # "sec" may begin the secret
    assert mask.feed(b"ond") == b"second"
    assert mask.feed(b"plain\n") == b"plain\n"
    assert mask.finish() == b""
