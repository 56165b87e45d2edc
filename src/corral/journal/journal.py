"""`Journal`: records runs from the event stream, off the hot path, and answers the history.

Its consumer only puts events on a queue; a writer thread folds them into rows (`RunBook`)
and writes them in batches. Anything that goes wrong with the database (locked, read-only,
full, damaged, a newer schema) prints one warning and switches the journal off: the run itself
goes on unharmed. SQLAlchemy is imported by the writer thread and by the history queries only.
"""

from __future__ import annotations

import functools
import logging
import queue
import sys
import threading
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TextIO

from ..errors import JournalError
from ..events import Event
from .settings import JournalSettings, config_secrets, hide_password
from .state import RunBook

if TYPE_CHECKING:
    from .records import RunDetail, RunSummary
    from .store import CheckReport, HistoryQuery, Store, VacuumReport

logger = logging.getLogger("corral.journal")

MAX_BATCH = 5000  # events folded into one transaction at most
CLOSE_TIMEOUT = 10.0  # seconds close() waits for the writer to finish
_STOP = object()


class Journal:
    """The run journal: an event consumer that writes runs, and the queries over them."""

    def __init__(
        self,
        settings: JournalSettings,
        *,
        secrets: Iterable[str] = (),
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self._secrets = [s for s in secrets if s]
        if settings.url and "@" in settings.url:
            password = settings.url.split("://", 1)[-1].rpartition("@")[0].partition(":")[2]
            self._secrets.append(password)  # the URL's password never lands in a record
        self._warn = warn or _warn_stderr
        self._queue: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._is_disabled = False
        self._has_warned = False
        self._reader: Store | None = None
        #: Events written (folded into a committed batch) so far.
        self.written = 0

    @property
    def location(self) -> str:
        """Where the journal is: the file, or the URL without its password."""
        return self.settings.location

    @property
    def is_disabled(self) -> bool:
        """True once the journal has switched itself off after an error."""
        return self._is_disabled

    def add_secret(self, value: str) -> None:
        """Mask this value in every record written from now on (call before the run starts)."""
        if value:
            self._secrets.append(value)

    # -- writing -----------------------------------------------------------------------

    def consumer(self) -> Callable[[Event], None]:
        """Return the EventBus subscriber that records events (starts the writer thread)."""
        self._start()
        put = self._queue.put

        def record(event: Event) -> None:
            if not self._is_disabled:
                put(event)  # never blocks: the queue is unbounded, the writer drains it

        return record

    def _start(self) -> None:
        with self._start_lock:
            if self._thread is None and not self._is_disabled:
                self._thread = threading.Thread(
                    target=self._write_loop, name="corral-journal", daemon=True
                )
                self._thread.start()

    def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Write what is queued, waiting `timeout` seconds at most, and stop the writer."""
        thread = self._thread
        if thread is not None:
            self._queue.put(_STOP)
            thread.join(timeout)
            if thread.is_alive():
                self._is_disabled = True
                self._warn_once(
                    f"could not finish writing within {timeout:g} s; "
                    "the end of this run is not recorded"
                )
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _write_loop(self) -> None:
        store = None
        try:
            from .store import Store  # SQLAlchemy: imported here, off the caller's path

            store = Store(self.settings, write=True)
            self._patiently(store, store.prepare)
            self._patiently(store, store.apply_retention)
            book = RunBook(
                tail_lines=self.settings.tail_lines,
                tail_bytes=self.settings.tail_bytes,
                secrets=self._secrets,
            )
            is_stopping = False
            while not is_stopping:
                events = [self._queue.get()]
                while len(events) < MAX_BATCH:
                    try:
                        events.append(self._queue.get_nowait())
                    except queue.Empty:
                        break
                for item in events:
                    if item is _STOP:
                        is_stopping = True
                    else:
                        book.apply(item)  # type: ignore[arg-type]
                batch = book.take()
                if batch:
                    self._patiently(store, functools.partial(store.write, batch))
                self.written += len(events) - is_stopping
        except Exception as exc:
            self._fail(exc)
        finally:
            if store is not None:
                store.close()

    def _patiently(self, store: Store, action: Callable[[], object]) -> None:
        """Run a database action; when it finds the journal locked, try again as long as other
        writers commit meanwhile (a busy journal, not a stuck lock), and give up otherwise.

        SQLite's busy handler polls, it does not queue: with dozens of corrals writing on a
        loaded machine a writer can lose the race for longer than busy_timeout while every
        other one makes progress. Only a lock that nobody uses for a whole busy_timeout (a
        process holding it) switches the journal off.
        """
        from .store import is_locked

        while True:
            mark = store.activity()
            try:
                action()
                return
            except Exception as exc:
                if self._is_disabled or not is_locked(exc) or store.activity() == mark:
                    raise

    def _fail(self, exc: BaseException) -> None:
        from .store import describe_error

        self._is_disabled = True
        logger.debug("journal writer failed", exc_info=exc)
        cause = exc.__cause__ if isinstance(exc, JournalError) and exc.__cause__ else exc
        reason = describe_error(cause)
        prefix = f"journal {self.location}"
        if reason.startswith(prefix):  # our own JournalError: say it once, without the name
            reason = reason[len(prefix) :].lstrip(": ")
        if "damaged" in reason:
            reason += "; move the file away to start a new journal"
        self._warn_once(f"{reason}; this run is not recorded")
        while True:  # drop what is queued: nobody will write it
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break

    def _warn_once(self, message: str) -> None:
        if self._has_warned:
            return
        self._has_warned = True
        location = hide_password(self.location)
        self._warn(f"corral: warning: journal {location}: {message} (the run goes on)")

    # -- reading -----------------------------------------------------------------------

    def _store(self) -> Store:
        if self._reader is None:
            from .store import Store

            try:
                self._reader = Store(self.settings, write=False)
            except Exception as exc:
                raise JournalError(f"journal {self.location}: cannot be opened: {exc}") from exc
        return self._reader

    def _writer_store(self) -> Store:
        from .store import Store

        return Store(self.settings, write=True)

    def history(self, query: HistoryQuery | None = None, **filters: Any) -> list[RunSummary]:
        """Return recent runs, newest first (`HistoryQuery` fields as keywords work too)."""
        from .store import HistoryQuery

        return self._store().history(query or HistoryQuery(**filters))

    def run(self, ref: str | None = None) -> RunDetail:
        """Return one run: an id, a unique prefix or random suffix of one, or the latest."""
        return self._store().run(ref)

    def failed_hosts(self, ref: str | None = None) -> tuple[str, list[str]]:
        """Return (run id, its hosts that failed or were never reached); latest run by default."""
        return self._store().failed_hosts(ref)

    def check(self) -> CheckReport:
        """Check the journal's integrity and schema."""
        return self._store().check()

    def vacuum(self) -> VacuumReport:
        """Reclaim the space of deleted runs."""
        store = self._writer_store()
        try:
            return store.vacuum()
        finally:
            store.close()

    def prune(self, older_than: float) -> int:
        """Delete runs started more than `older_than` seconds ago; return how many."""
        store = self._writer_store()
        try:
            return store.prune(older_than)
        finally:
            store.close()


def _warn_stderr(message: str) -> None:
    try:
        print(message, file=_stderr(), flush=True)
    except (OSError, ValueError):  # stderr closed: nowhere left to say it
        pass


def _stderr() -> TextIO:
    return sys.stderr


def open_journal(
    config: Any,
    *,
    secrets: Iterable[str] = (),
    warn: Callable[[str], None] | None = None,
) -> Journal | None:
    """Return the journal `config` asks for (None when `journal.enabled` is false).

    The config's own secrets (sudo and login passwords, passphrases) and `secrets` are masked
    in every record. Nothing is opened yet: the writer starts with `consumer()`.
    """
    settings = JournalSettings.from_config(config)
    if not settings.enabled:
        return None
    return Journal(settings, secrets=[*config_secrets(config), *secrets], warn=warn)
