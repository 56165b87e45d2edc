"""`MockContext`: a Context whose commands are answered from prepared results, not run
(Invoke's MockContext), for unit tests of tasks.

```python
from corral.testing import MockContext

c = MockContext(run={"git rev-parse HEAD": "abc123\\n", re.compile(r"rm -rf "): False})
assert my_task(c) == "abc123"
c.run.assert_any_call("git rev-parse HEAD", hide=True)   # run and sudo are unittest Mocks
```
"""

from __future__ import annotations

import contextlib
import itertools
import re
import shlex
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any, Literal, TypeAlias
from unittest.mock import Mock

from corral import Config, Context, Result, Secret  # the test kit uses the public API only

Method = Literal["run", "sudo"]
#: One answer: a Result; a str (its stdout, exit 0); a bool (exit 0 or 1); an exception to raise.
ResultValue: TypeAlias = Result | str | bool | BaseException
#: An answer for every command, answers for successive calls, or answers by command.
ResultSpec: TypeAlias = (
    ResultValue
    | Iterable[ResultValue]
    | Mapping[str | re.Pattern[str], ResultValue | Iterable[ResultValue]]
)

#: Prepared answers of one method: for any command, or by command (string or regex).
_Answers: TypeAlias = Iterator[ResultValue] | dict[str | re.Pattern[str], Iterator[ResultValue]]
_METHODS: tuple[Method, ...] = ("run", "sudo")


class MockContext(Context):
    """A Context that answers `run` and `sudo` from prepared results instead of running them.

    As in Invoke: `run=` and `sudo=` take one answer for any command, a list of answers for
    successive calls, or a dict from command strings (exact) or compiled regexes (`match`)
    to either. With `repeat=True` (the default) answers are reused forever; with False each
    is used once. A command with no answer raises NotImplementedError naming it. A failing
    Result is returned, not raised: prepare an exception (e.g. `UnexpectedExit(result)`) to
    have it raised.

    Commands are matched as the task wrote them: `cd()` and `prefix()` work (`cwd` follows
    them) but do not change what is matched. `commands` lists every command as it would
    have run, with `cd`, prefixes and `sudo` applied, for assertions. `run` and `sudo` are
    `unittest.mock.Mock`s wrapping the real methods (`c.run.assert_called_once_with(...)`).
    """

    run: Mock
    sudo: Mock

    def __init__(
        self,
        config: Config | None = None,
        *,
        run: ResultSpec | None = None,
        sudo: ResultSpec | None = None,
        repeat: bool = True,
    ) -> None:
        super().__init__(config)
        self.repeat = repeat
        #: Every command answered so far, as it would have run (`cd D && prefix && command`).
        self.commands: list[str] = []
        self._prefixes: list[str] = []
        self._answers: dict[Method, _Answers] = {}
        if run is not None:
            self._answers["run"] = self._prepare(run)
        if sudo is not None:
            self._answers["sudo"] = self._prepare(sudo)
        # Mocks, so tests can assert how the methods were called (Invoke does the same).
        self.run = Mock(wraps=self._run, name="run")
        self.sudo = Mock(wraps=self._sudo, name="sudo")

    # ------------------------------------------------------------------ preparing answers

    def set_result_for(
        self,
        attname: Method,
        command: str | re.Pattern[str],
        result: ResultValue | Iterable[ResultValue],
    ) -> None:
        """Prepare the answer(s) `attname` ("run" or "sudo") gives for one command (or regex)."""
        if attname not in _METHODS:
            raise ValueError(f"set_result_for: attname must be 'run' or 'sudo', not {attname!r}")
        answers = self._answers.setdefault(attname, {})
        if not isinstance(answers, dict):
            raise TypeError(
                f"set_result_for: the results for {attname} were given for any command, not "
                f"by command; pass {attname}={{command: result, ...}} to set them by command"
            )
        answers[command] = self._sequence(result)

    def _prepare(self, spec: ResultSpec) -> _Answers:
        if isinstance(spec, Mapping):
            return {key: self._sequence(value) for key, value in spec.items()}
        return self._sequence(spec)

    def _sequence(self, value: ResultValue | Iterable[ResultValue]) -> Iterator[ResultValue]:
        if isinstance(value, Result | str | bool | BaseException):
            items: list[ResultValue] = [value]
        elif isinstance(value, Iterable):
            items = list(value)
        else:
            raise TypeError(
                "MockContext results are a Result, str, bool, exception, a list of them, or a "
                f"dict of them by command; not {type(value).__name__}"
            )
        for item in items:
            if not isinstance(item, Result | str | bool | BaseException):
                raise TypeError(
                    f"MockContext result {item!r} is not a Result, str, bool or exception"
                )
        return itertools.cycle(items) if self.repeat else iter(items)

    # ------------------------------------------------------------------ answering

    def _answer(self, method: Method, command: str) -> Result:
        answers = self._answers.get(method)
        if answers is None:
            raise NotImplementedError(
                f"MockContext: unexpected {method}({command!r}): no {method} results were "
                f"prepared; give MockContext({method}=...) or use set_result_for"
            )
        if isinstance(answers, dict):
            sequence = answers.get(command)
            if sequence is None:
                sequence = next(
                    (
                        value
                        for key, value in answers.items()
                        if isinstance(key, re.Pattern) and key.match(command)
                    ),
                    None,
                )
            if sequence is None:
                known = ", ".join(
                    repr(key.pattern if isinstance(key, re.Pattern) else key) for key in answers
                )
                raise NotImplementedError(
                    f"MockContext: unexpected {method}({command!r}); results were prepared "
                    f"for: {known or '(nothing)'}"
                )
        else:
            sequence = answers
        try:
            value = next(sequence)
        except StopIteration:
            raise NotImplementedError(
                f"MockContext: unexpected {method}({command!r}): its prepared results were "
                "all used (pass repeat=True to reuse them)"
            ) from None
        if isinstance(value, BaseException):
            raise value
        if isinstance(value, bool):
            return Result(command=command, exited=0 if value else 1, connection=self)
        if isinstance(value, str):
            return Result(command=command, exited=0, stdout_bytes=value.encode(), connection=self)
        return value if value.command else replace(value, command=command)

    def _run(self, command: str | Sequence[str], **kwargs: Any) -> Result:
        text = _text(command)
        self.commands.append(self._shaped(text))
        return self._answer("run", text)

    def _sudo(
        self,
        command: str | Sequence[str],
        user: str | None = None,
        password: str | Secret | None = None,
        **kwargs: Any,
    ) -> Result:
        text = _text(command)
        self.commands.append(f"sudo {'-u ' + user + ' ' if user else ''}{self._shaped(text)}")
        return self._answer("sudo", text)

    # ------------------------------------------------------------------ cd and prefix

    @contextlib.contextmanager
    def prefix(self, command: str) -> Iterator[None]:
        """Run `command && ` before each command while the block runs (shown in `commands`)."""
        self._prefixes.append(command)
        try:
            with super().prefix(command):
                yield
        finally:
            self._prefixes.pop()

    def _shaped(self, command: str) -> str:
        """The command as corral would run it: `cd DIR && prefix && ... && command`."""
        parts = [f"cd {_quote_path(self.cwd)}"] if self.cwd is not None else []
        return " && ".join([*parts, *self._prefixes, command])

    def __repr__(self) -> str:
        prepared = ", ".join(self._answers) or "nothing"
        return f"<MockContext answering {prepared}; {len(self.commands)} commands so far>"


def _text(command: str | Sequence[str]) -> str:
    """A command as shell text: an argv list with every word quoted (as `run` does)."""
    return command if isinstance(command, str) else shlex.join(command)


def _quote_path(path: str) -> str:
    """Quote a directory for the shell, keeping `~` expandable (as `cd()` does)."""
    if path == "~":
        return path
    if path.startswith("~/"):
        return "~/" + shlex.quote(path[2:]) if path[2:] else path
    return shlex.quote(path)


__all__ = ["MockContext", "ResultSpec", "ResultValue"]
