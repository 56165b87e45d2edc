"""Executable dynamic inventories: `script --list` prints JSON (Ansible's protocol), with a
timeout; without `_meta.hostvars` in it, `script --host NAME` is asked for each host."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

from ...errors import DynamicInventoryError
from ..builder import InventoryBuilder
from .ansible import ListFormat


def _shown(output: str, limit: int = 80) -> str:
    text = output.strip()
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


def run_script(path: Path, args: list[str], timeout: float) -> str:
    """Run an inventory script and return its stdout; raise DynamicInventoryError on failure."""
    source = str(path)
    command = " ".join([path.name, *args])
    try:
        process = subprocess.Popen(
            [str(path), *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: a timeout stops its children too
        )
    except OSError as exc:
        raise DynamicInventoryError(
            f"cannot run {command}: {exc.strerror or exc}", source=source
        ) from exc
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:  # pragma: no cover - it ended just now
            pass
        process.communicate()
        raise DynamicInventoryError(
            f"{command} did not finish within {timeout:g} s and was stopped "
            "(raise config inventory.script_timeout if it is just slow)",
            source=source,
        ) from None
    if process.returncode != 0:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-3:]
        detail = f": {' / '.join(tail)}" if tail else ""
        raise DynamicInventoryError(
            f"{command} exited with status {process.returncode}{detail}", source=source
        )
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DynamicInventoryError(
            f"{command} printed bytes that are not UTF-8 (at byte {exc.start})", source=source
        ) from None


def parse_json(output: str, source: str, what: str) -> Any:
    """Parse a script's JSON output; garbage raises DynamicInventoryError showing its start."""
    try:
        return json.loads(output)
    except json.JSONDecodeError as exc:
        raise DynamicInventoryError(
            f"{what} printed something that is not JSON (line {exc.lineno}, column "
            f"{exc.colno}: {exc.msg}); it starts {_shown(output)}",
            source=source,
        ) from None


def read_script(builder: InventoryBuilder, path: Path, timeout: float) -> None:
    """Run a dynamic inventory script and add what it lists."""
    source = str(path)
    data = parse_json(run_script(path, ["--list"], timeout), source, f"{path.name} --list")
    if not isinstance(data, dict):
        raise DynamicInventoryError(
            f"{path.name} --list printed a JSON {type(data).__name__}, not an object of groups",
            source=source,
        )

    def host_vars(name: str) -> Any:
        output = run_script(path, ["--host", name], timeout)
        if not output.strip():
            return {}
        return parse_json(output, source, f"{path.name} --host {name}")

    ListFormat(builder, source).read(data, host_vars)
