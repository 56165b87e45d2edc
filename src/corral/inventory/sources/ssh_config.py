"""`@ssh_config`: the `Host` aliases of your ssh_config files that have no wildcard, as an
inventory of ungrouped hosts (the Connection then reads their settings from ssh_config)."""

from __future__ import annotations

import glob
import os
import shlex
from collections.abc import Iterator
from pathlib import Path

from ...config import Config
from ..builder import InventoryBuilder
from ..model import UNGROUPED, Origin
from ..settings import HOST_NAME

SSH_CONFIG = "@ssh_config"
_MAX_DEPTH = 16  # Include nesting, as OpenSSH limits it


def ssh_config_paths(config: Config) -> list[tuple[Path, Path]]:
    """Return the ssh_config files config names, each with the directory Includes are in."""
    if not config.get("load_ssh_configs", True):
        return []
    user_dir = Path(os.path.expanduser("~/.ssh"))
    runtime = config.get("ssh_config_path")
    if runtime:
        return [(Path(os.path.expanduser(str(runtime))), user_dir)]
    paths = []
    if config.get("user_ssh_path"):
        paths.append((Path(os.path.expanduser(str(config.get("user_ssh_path")))), user_dir))
    if config.get("system_ssh_path"):
        system = Path(str(config.get("system_ssh_path")))
        paths.append((system, system.parent))
    return paths


def _entries(path: Path, base: Path, depth: int, seen: set[Path]) -> Iterator[tuple[str, Origin]]:
    """Yield each alias of a Host line, with where it is, following Include."""
    try:
        real = path.resolve()
        if real in seen or depth > _MAX_DEPTH:
            return
        seen.add(real)
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return  # a missing or unreadable file is skipped, as ssh does
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, rest = line.replace("=", " ", 1).partition(" ")
        keyword = keyword.lower()
        if keyword not in ("host", "include"):
            continue
        try:
            words = shlex.split(rest, comments=True)
        except ValueError:
            continue
        if keyword == "include":
            for word in words:
                pattern = os.path.expanduser(word)
                if not os.path.isabs(pattern):
                    pattern = str(base / pattern)
                for included in sorted(glob.glob(pattern)):
                    yield from _entries(Path(included), base, depth + 1, seen)
            continue
        for word in words:
            if any(char in word for char in "*?!") or not HOST_NAME.match(word):
                continue  # a pattern, not a host (or a name no host pattern could select)
            yield word, Origin(str(path), number)


def read_ssh_config(builder: InventoryBuilder, config: Config) -> None:
    """Add every wildcard-free `Host` alias of the configured ssh_config files."""
    ungrouped = builder.group(UNGROUPED, Origin(SSH_CONFIG))
    seen: set[Path] = set()
    for path, base in ssh_config_paths(config):
        for alias, where in _entries(path, base, 0, seen):
            if alias in builder.hosts:
                continue
            builder.add_member(ungrouped, builder.host(alias, where))
