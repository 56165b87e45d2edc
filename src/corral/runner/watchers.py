"""Stream watchers: answer prompts that appear in a command's output (Invoke-compatible)."""

from __future__ import annotations

import re
from collections.abc import Iterable

from ..errors import ResponseNotAccepted as ResponseNotAccepted  # defined in errors, kept here

#: Unmatched output a Responder keeps looking back over; bounds its work per byte of output.
WINDOW = 64 * 1024


class StreamWatcher:
    """Base class of watchers: `submit` receives the whole output so far, returns replies.

    corral calls `feed` with each new piece of output; the default `feed` keeps the whole
    text and calls `submit`, so an Invoke-style subclass that overrides only `submit` works.
    """

    def __init__(self) -> None:
        self._seen: list[str] = []

    def submit(self, stream: str) -> Iterable[str]:
        """Return the strings to write to the command's stdin, given all output so far."""
        return []

    def feed(self, text: str) -> Iterable[str]:
        """Return the replies for a new piece of output."""
        self._seen.append(text)
        return self.submit("".join(self._seen))


class Responder(StreamWatcher):
    """Write `response` to stdin each time `pattern` (a regex) appears in the output."""

    def __init__(self, pattern: str, response: str) -> None:
        super().__init__()
        self.pattern = pattern
        self.response = response
        self.index = 0
        self._regex = re.compile(pattern, re.S)
        self._pending = ""

    def pattern_matches(self, stream: str, pattern: str, index_attr: str) -> list[str]:
        """Return matches of `pattern` in `stream` after the index named `index_attr`."""
        index: int = getattr(self, index_attr)
        new = stream[index:]
        matches: list[str] = re.findall(pattern, new, re.S)
        if matches:
            setattr(self, index_attr, index + len(new))
        return matches

    def submit(self, stream: str) -> Iterable[str]:
        """Return one response per new match of the pattern in `stream`."""
        for _ in self.pattern_matches(stream, self.pattern, "index"):
            yield self.response

    def feed(self, text: str) -> Iterable[str]:
        """Return one response per match in the output not yet matched (linear in output)."""
        pending = self._pending + text
        end = 0
        count = 0
        for match in self._regex.finditer(pending):
            count += 1
            end = match.end()
        self._pending = pending[end:][-WINDOW:]
        return [self.response] * count


class FailingResponder(Responder):
    """A Responder that raises ResponseNotAccepted when `sentinel` follows its answer."""

    def __init__(self, pattern: str, response: str, sentinel: str) -> None:
        super().__init__(pattern, response)
        self.sentinel = sentinel
        self.failure_index = 0
        self.tried = False
        self._sentinel = re.compile(sentinel, re.S)
        self._after = ""

    def _fail(self) -> None:
        raise ResponseNotAccepted(
            f"auto-response to r{self.pattern!r} was not accepted (saw r{self.sentinel!r})"
        )

    def submit(self, stream: str) -> Iterable[str]:
        """Return a response to the pattern, or raise if the sentinel follows one."""
        if self.tried and self.pattern_matches(stream, self.sentinel, "failure_index"):
            self._fail()
        responses = list(super().submit(stream))
        if responses:
            self.tried = True
        return responses

    def feed(self, text: str) -> Iterable[str]:
        """Return a response to the pattern, or raise if the sentinel follows one."""
        if self.tried:
            self._after = (self._after + text)[-WINDOW:]
            if self._sentinel.search(self._after):
                self._fail()
        responses = list(super().feed(text))
        if responses:
            self.tried = True
            self._after = self._pending
        return responses
