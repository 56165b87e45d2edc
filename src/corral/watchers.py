"""`invoke.watchers`' names: `StreamWatcher`, `Responder`, `FailingResponder`."""

from .runner.watchers import FailingResponder, Responder, StreamWatcher

__all__ = ["FailingResponder", "Responder", "StreamWatcher"]
