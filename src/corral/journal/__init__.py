"""The run journal: every run's hosts, outcomes, output tails and changes, in SQLite (by
default, `~/.local/state/corral/journal.db`) or PostgreSQL; and the HTML run report.

`open_journal(config)` gives a `Journal`; subscribe `journal.consumer()` to the run's
`EventBus`, and `close()` it at the end. Nothing here imports SQLAlchemy until a run is
written or the history is read.
"""

from .journal import Journal, open_journal
from .records import HostRecord, OperationRecord, RunDetail, RunSummary
from .settings import JournalSettings, default_path

__all__ = [
    "HostRecord",
    "Journal",
    "JournalSettings",
    "OperationRecord",
    "RunDetail",
    "RunSummary",
    "default_path",
    "open_journal",
]
