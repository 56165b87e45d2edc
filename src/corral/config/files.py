"""Config files: YAML, JSON or Python, found by prefix (`/etc/corral` + .yaml/.yml/.json/.py)."""

from __future__ import annotations

import json
import os
import runpy
import types
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError
from .defaults import SECRET_KEYS
from .secret import Secret

#: Suffixes tried for the system, user and project files; the first file found is loaded.
SUFFIXES = (".yaml", ".yml", ".json", ".py")


def _located(error: Any) -> str:
    mark = getattr(error, "problem_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(problem)


def load_file(path: Path) -> dict[str, Any]:
    """Read a YAML, JSON or Python config file (by suffix; YAML otherwise) into a dict."""
    shown = str(path)
    try:
        if path.suffix == ".py":
            data = _load_python(path)
        else:
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".json":
                try:
                    data = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ConfigError(
                        f"{shown}: not valid JSON (line {exc.lineno}, column {exc.colno}: "
                        f"{exc.msg})"
                    ) from None  # the parser's error quotes the file, which may hold a secret
            else:
                try:
                    data = yaml.safe_load(text)
                except yaml.YAMLError as exc:
                    # not `from exc`: the parser's error quotes the file, which may hold a secret
                    raise ConfigError(f"{shown}: not valid YAML ({_located(exc)})") from None
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read: {exc.strerror or exc}") from exc
    if data is None:  # an empty file
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            f"{shown}: expected a mapping of settings at the top level, got {type(data).__name__}"
        )
    return data


def _load_python(path: Path) -> dict[str, Any]:
    try:
        namespace = runpy.run_path(str(path))
    except Exception as exc:
        raise ConfigError(f"{path}: {type(exc).__name__}: {exc}") from exc
    data: dict[str, Any] = {}
    for key, value in namespace.items():
        if key.startswith("_"):
            continue
        if isinstance(value, types.ModuleType):
            raise ConfigError(
                f"{path}: {key}: a module is not a config value "
                f"(import it as _{key}, or is this a corralfile rather than a config file?)"
            )
        data[key] = value
    return data


def find_file(prefix: str | Path) -> Path | None:
    """Return the first existing `prefix` + .yaml/.yml/.json/.py, or None."""
    base = os.path.expanduser(str(prefix))
    for suffix in SUFFIXES:
        candidate = Path(base + suffix)
        if candidate.is_file():
            return candidate
    return None


def wrap_secrets(data: dict[str, Any]) -> dict[str, Any]:
    """Wrap the values of secret keys in Secret, so dumps of the data never show them."""
    for dotted in SECRET_KEYS:
        section, _, key = dotted.rpartition(".")
        node = data.get(section) if section else data
        if isinstance(node, dict) and isinstance(node.get(key), str):
            node[key] = Secret(node[key])
    return data
