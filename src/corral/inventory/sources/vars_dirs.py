"""Ansible's `group_vars/` and `host_vars/` beside an inventory: `NAME`, `NAME.yml`,
`NAME.yaml`, `NAME.json`, or a `NAME/` directory of such files, merged over the vars the
inventory itself gives that group or host."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ...errors import InventoryError
from ..builder import InventoryBuilder
from ..draft import Draft
from ..model import Origin
from .lines import line_of, load_yaml

SUFFIXES = (".yml", ".yaml", ".json")
VAULT_HEADER = "$ANSIBLE_VAULT"


def _files(entry: Path) -> list[Path]:
    if entry.is_dir():
        return sorted(
            p
            for p in entry.rglob("*")
            if p.is_file() and not p.name.startswith(".") and (p.suffix in SUFFIXES or not p.suffix)
        )
    return [entry]


def _read(builder: InventoryBuilder, draft: Draft, path: Path) -> None:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InventoryError(f"cannot read vars file: {exc}", source=source) from exc
    if text.lstrip().startswith(VAULT_HEADER):
        builder.warn(f"{source}: encrypted with Ansible Vault: skipped (corral cannot decrypt it)")
        return
    data = load_yaml(text, source)
    if data is None:
        return
    if not isinstance(data, Mapping):
        raise InventoryError(
            f"expected a mapping of vars, got {type(data).__name__}",
            source=source,
            line=line_of(data, 0),
            entry=draft.scope,
        )
    for key, value in data.items():
        builder.set_var(draft, key, value, Origin(source, line_of(data, key)))


def read_vars_dirs(builder: InventoryBuilder, directory: Path) -> None:
    """Apply group_vars/ and host_vars/ found in `directory` to the groups and hosts known."""
    for kind, known in (("group_vars", builder.groups), ("host_vars", builder.hosts)):
        base = directory / kind
        if not base.is_dir():
            continue
        for entry in sorted(base.iterdir()):
            if entry.name.startswith("."):
                continue
            name = entry.name
            if name not in known and entry.suffix in SUFFIXES and entry.is_file():
                name = entry.name[: -len(entry.suffix)]
            draft = known.get(name)
            if draft is None:
                continue  # as Ansible: vars for a group or host this inventory lacks
            for path in _files(entry):
                _read(builder, draft, path)
