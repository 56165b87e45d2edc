"""Gathering facts on a host: the probe, run once over the connection, then parsed."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Protocol

from ...config import Config
from ...errors import FactsError
from ...result import Result
from ...runner.command import Command
from ...runner.dry import is_dry
from ...runner.options import RunKwargs, Unpack
from .model import Facts
from .parse import END, MARK, parse_facts


class Runs(Protocol):
    """What gathering needs of a connection: its name, its config, and `probe`."""

    original_host: str
    config: Config

    async def probe(self, command: Command, **kwargs: Unpack[RunKwargs]) -> Result: ...


#: Seconds the probe may take (df on a hung network mount is the slow case).
PROBE_TIMEOUT = 60.0


@lru_cache(maxsize=1)
def probe_script() -> str:
    """Return the probe's shell text, without its comments (fewer bytes on the wire).

    It is one brace group, so that `cd()` and `prefix()` (`cd D && ...`) guard all of it.
    """
    text = (Path(__file__).with_name("probe.sh")).read_text(encoding="utf-8")
    lines = [
        line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]
    return "{\n" + "\n".join(lines) + "\n}"


async def gather_facts(conn: Runs) -> Facts:
    """Run the probe on the connection's host (one command) and return its Facts.

    The probe reads and changes nothing, so it runs under `--check` too. Under `--dry`
    (config run.dry) nothing connects, so every fact is None. A probe that could not run to
    its end (the login shell refused it) raises FactsError.
    """
    if is_dry(conn.config):
        return Facts()
    result = await conn.probe(
        probe_script(),
        hide=True,
        warn=True,
        echo=False,
        pty=False,
        in_stream=False,
        watchers=(),
        timeout=PROBE_TIMEOUT,
    )
    if f"{MARK}{END}" not in result.stdout:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        detail = f": {' / '.join(tail)}" if tail else ""
        raise FactsError(
            conn.original_host,
            f"the facts probe did not run to its end (exit status {result.exited}){detail}; "
            "its login shell must be a POSIX sh (bash, dash, ash, ...)",
        )
    return parse_facts(result.stdout)
