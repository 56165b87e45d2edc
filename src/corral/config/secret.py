"""Secrets: `Secret` (a value whose repr and str are masked) and the one place that keeps
secrets out of log records (`secret_registry`).

Log records are masked where they are made (a LogRecord factory, installed on first use and
chained to any other), so no handler, level or library logger can print a secret: asyncssh
logs every command it sends at INFO, and corral's commands carry `export NAME=value` text.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Any

MASK = "****"
#: asyncssh's debug line for an SSH `env` request (the value is sent, never logged).
_ENV_RECORD = "  Env: %s=%s"
_RUN_ID = re.compile(r"CORRAL_RUN_ID=([0-9a-f]+)")


class Secret:
    """A secret string; `repr` and `str` are masked, `reveal()` gives the value."""

    __slots__ = ("_value",)

    def __init__(self, value: str | Secret) -> None:
        self._value = value.reveal() if isinstance(value, Secret) else value

    def reveal(self) -> str:
        """Return the secret value (only for handing it to the transport)."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def reveal(value: str | Secret | None) -> str | None:
    """Return the plain value of a string or Secret (None stays None)."""
    if isinstance(value, Secret):
        return value.reveal()
    return value


def mask(text: str, secrets: list[str]) -> str:
    """Replace every occurrence of each non-empty secret in `text` with the mask."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text


class SecretRegistry:
    """Secrets in use by this process, masked in every log record while they are registered.

    `secrets(...)` registers values (passwords, passphrases, secret env values) for a block;
    `command(run_id, wire, masked)` registers a command's wire text, which a record naming its
    run marker shows as `masked` (its env values replaced) instead.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: Counter[str] = Counter()
        self._commands: dict[str, tuple[str, str]] = {}
        self._installed = False

    @contextlib.contextmanager
    def secrets(self, values: Iterable[str | Secret | None]) -> Iterator[None]:
        """Mask these values in log records while the block runs."""
        plain = [v for v in (reveal(value) for value in values) if v]
        if not plain:
            yield
            return
        self._install()
        with self._lock:
            self._values.update(plain)
        try:
            yield
        finally:
            with self._lock:
                self._values.subtract(plain)
                self._values += Counter()  # drop counts that reached zero

    @contextlib.contextmanager
    def command(self, run_id: str, wire: str, masked: str) -> Iterator[None]:
        """Show `wire` as `masked` in log records while the command runs."""
        self._install()  # also for SSH env requests, whose values asyncssh logs
        if wire == masked:
            yield
            return
        with self._lock:
            self._commands[run_id] = (wire, masked)
        try:
            yield
        finally:
            with self._lock:
                self._commands.pop(run_id, None)

    def mask(self, text: str) -> str:
        """Return `text` with every registered command and secret masked."""
        with self._lock:
            commands = dict(self._commands)
            values = sorted(self._values, key=len, reverse=True)
        if commands and "CORRAL_RUN_ID=" in text:
            for run_id in _RUN_ID.findall(text):
                if run_id in commands:
                    wire, masked = commands[run_id]
                    text = text.replace(wire, masked)
        for value in values:
            text = text.replace(value, MASK)
        return text

    def _install(self) -> None:
        """Mask records as they are made (once per process, chained to the current factory)."""
        if self._installed:
            return
        with self._lock:
            if self._installed:
                return
            previous = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = previous(*args, **kwargs)
                env = isinstance(record.msg, str) and record.msg.endswith(_ENV_RECORD)
                if env and isinstance(record.args, tuple) and len(record.args) == 2:
                    record.args = (record.args[0], MASK)  # an SSH env value: never logged
                    return record
                if not (self._values or self._commands):
                    return record
                try:
                    message = record.getMessage()
                except Exception:  # a malformed record: leave it to logging to report
                    return record
                masked = self.mask(message)
                if masked != message:
                    record.msg, record.args = masked, None
                return record

            logging.setLogRecordFactory(factory)
            self._installed = True


#: The process's registry: log records are process-wide, so this is too.
secret_registry = SecretRegistry()
