"""`JournalSettings`: where the journal lives and what it keeps, read from `journal.*` config."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config.defaults import SECRET_KEYS
from ..config.secret import Secret

DEFAULT_TAIL_LINES = 200
DEFAULT_TAIL_BYTES = 64 * 1024
DEFAULT_RETENTION_DAYS = 90.0
DEFAULT_BUSY_TIMEOUT = 5.0


def default_path(environ: Mapping[str, str] | None = None) -> Path:
    """Return the default journal file: `$XDG_STATE_HOME/corral/journal.db`."""
    env = os.environ if environ is None else environ
    state = env.get("XDG_STATE_HOME") or ""
    base = Path(state) if os.path.isabs(state) else Path(env.get("HOME") or "~") / ".local/state"
    return base.expanduser() / "corral" / "journal.db"


@dataclass(frozen=True)
class JournalSettings:
    """The journal's settings: a SQLite file (default) or a database URL, and its bounds."""

    #: The SQLite file; ignored when `url` is set.
    path: Path
    #: A SQLAlchemy URL (`postgresql+psycopg://user@host/db`), or None for the file.
    url: str | None = None
    enabled: bool = True
    tail_lines: int = DEFAULT_TAIL_LINES
    tail_bytes: int = DEFAULT_TAIL_BYTES
    #: Runs older than this many days are pruned, at most once a day; None keeps every run.
    retention_days: float | None = DEFAULT_RETENTION_DAYS
    #: Seconds a writer waits for another writer's lock before it gives up.
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT

    @classmethod
    def from_config(cls, config: Any) -> JournalSettings:
        """Read `journal.*` from a corral Config (or a plain mapping)."""
        section = _get(config, "journal") or {}
        path = section.get("path")
        retention = section.get("retention_days", DEFAULT_RETENTION_DAYS)
        url = section.get("url")
        url = url.reveal() if isinstance(url, Secret) else url  # a secret key of the config
        return cls(
            path=Path(path).expanduser() if path else default_path(),
            url=url or None,
            enabled=bool(section.get("enabled", True)),
            tail_lines=int(section.get("tail_lines", DEFAULT_TAIL_LINES)),
            tail_bytes=int(section.get("tail_bytes", DEFAULT_TAIL_BYTES)),
            retention_days=float(retention) if retention is not None else None,
            busy_timeout=float(section.get("busy_timeout", DEFAULT_BUSY_TIMEOUT)),
        )

    @property
    def database_url(self) -> str:
        """The SQLAlchemy URL of the journal (`sqlite:///PATH` for the file)."""
        return self.url or f"sqlite:///{self.path}"

    @property
    def location(self) -> str:
        """Where the journal is, for messages: the file, or the URL without its password."""
        if not self.url:
            return str(self.path)
        return hide_password(self.url)


def hide_password(url: str) -> str:
    """Return a database URL with its password (if any) replaced by `****`."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user, colon, _password = credentials.partition(":")
    return f"{scheme}://{user}{':****' if colon else ''}@{host}"


def config_secrets(config: Any) -> list[str]:
    """Return the secret values set in a Config (sudo and login passwords, passphrases; the
    journal URL's password, not the URL)."""
    found = []
    for dotted in SECRET_KEYS - {"journal.url"}:
        section, _, key = dotted.partition(".")
        value = (_get(config, section) or {}).get(key)
        if isinstance(value, Secret):
            value = value.reveal()
        if isinstance(value, str) and value:
            found.append(value)
    return found


def _get(config: Any, key: str) -> Any:
    try:
        value = config[key]
    except (KeyError, TypeError):
        return None
    to_dict = getattr(value, "to_dict", None)
    return to_dict() if callable(to_dict) else value
