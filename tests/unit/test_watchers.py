import pytest

from corral.runner.watchers import FailingResponder, Responder, ResponseNotAccepted, StreamWatcher


def test_responder_answers_each_match_once_even_when_split_across_chunks() -> None:
    responder = Responder(r"Password: ", "secret\n")
    assert list(responder.feed("Enter Pass")) == []
    assert list(responder.feed("word: ")) == ["secret\n"]
    assert list(responder.feed("more output")) == []
    assert list(responder.feed("Password: again Password: ")) == ["secret\n", "secret\n"]


def test_responder_submit_keeps_invoke_semantics() -> None:
    responder = Responder(r"Continue\?", "y\n")
    assert list(responder.submit("Continue?")) == ["y\n"]
    assert list(responder.submit("Continue? nothing new")) == []
    assert list(responder.submit("Continue? nothing new Continue?")) == ["y\n"]


def test_responder_work_stays_bounded_for_output_without_matches() -> None:
    responder = Responder(r"never-here", "x")
    for _ in range(1000):
        assert list(responder.feed("a" * 10_000)) == []
    assert len(responder._pending) <= 64 * 1024


def test_failing_responder_raises_when_sentinel_follows_the_answer() -> None:
    watcher = FailingResponder(r"Password: ", "wrong\n", "Sorry, try again")
    assert list(watcher.feed("Password: ")) == ["wrong\n"]
    with pytest.raises(ResponseNotAccepted):
        list(watcher.feed("Sorry, try again.\n"))


def test_failing_responder_ignores_sentinel_before_answering() -> None:
    watcher = FailingResponder(r"Password: ", "pw\n", "Sorry")
    assert list(watcher.feed("Sorry, unrelated\n")) == []


def test_custom_invoke_style_watcher_gets_the_whole_stream() -> None:
    seen: list[str] = []

    class Recorder(StreamWatcher):
        def submit(self, stream: str) -> list[str]:
            seen.append(stream)
            return []

    watcher = Recorder()
    list(watcher.feed("ab"))
    list(watcher.feed("cd"))
    assert seen == ["ab", "abcd"]
